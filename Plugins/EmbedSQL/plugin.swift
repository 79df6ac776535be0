import Foundation
import PackagePlugin

/// Embeds `migrations/*.sql` and `queries/*.sql` into the target as Swift string literals.
/// Why: `Bundle.module` resources crash an installed binary (SIGILL) once `.build` is gone, and while
/// `.build` exists a copied binary silently reads from it, hiding the bug,
/// and histd/histctl must work after `swift build -c release` and a copy to /usr/local/bin.
@main
struct EmbedSQL: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let root = context.package.directoryURL
        // HistFleet embeds the PostgreSQL twins (docs/FLEET.md); every other target the SQLite files.
        let folders = target.name == "HistFleet" ? ["migrations/postgres", "queries/postgres"] : ["migrations", "queries"]
        let dirs = folders.map { root.appending(path: $0) }
        var inputs: [URL] = []
        for dir in dirs {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names.sorted() where name.hasSuffix(".sql") {
                inputs.append(dir.appending(path: name))
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) SQL files into \(target.name)",
                executable: try context.tool(named: "EmbedSQLGen").url,
                arguments: [output.path] + dirs.map(\.path),
                inputFiles: inputs + dirs,
                outputFiles: [output]
            )
        ]
    }
}
