import HistctlCommands

// histctl: the command tree without the PostgreSQL client. A postgres:// --db execs histctl-fleet
// (HistctlCommands/FleetMode.swift says why the fleet client is a separate executable).
Histctl.main(fleet: nil)
