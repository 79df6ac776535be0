import HistctlCommands

// histctl-fleet: histctl's command tree with the PostgreSQL backend. histctl execs it for --db postgres://...
// (HistctlCommands/FleetMode.swift says why); it can also be run directly, with histctl's arguments.
Histctl.main(fleet: PostgresFleetBackend())
