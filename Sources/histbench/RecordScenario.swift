import Foundation

/// `record`: placeholder until HistStore's HistoryWriter lands on main.
enum RecordScenario {
    static func run(_ ws: Workspace, duration: Double, lightRate: Int, trials: Int) throws -> ScenarioResult {
        throw Workspace.Failure(description: "record: HistStore's HistoryWriter is not on this branch yet")
    }
}
