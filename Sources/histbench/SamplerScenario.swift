import Foundation

/// `sampler`: placeholder until HistProc's ProcFS/TreeSampler land on main.
enum SamplerScenario {
    static func run(_ ws: Workspace, procs: Int, trials: Int) throws -> ScenarioResult {
        throw Workspace.Failure(description: "sampler: HistProc's TreeSampler is not on this branch yet")
    }
}
