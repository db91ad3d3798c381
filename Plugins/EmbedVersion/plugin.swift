import Foundation
import PackagePlugin

/// Embeds the release version (the top-level `VERSION` file) and the commit the build is of
/// (read from `.git`, when the source is a clone) into the target that uses this plugin, for
/// `--version`.
@main
struct EmbedVersion: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedVersion.swift")
        // What the commit is read from: a new commit changes HEAD or the branch's ref, and the
        // version is embedded again.
        let git = root.appending(path: ".git")
        var inputs = [root.appending(path: "VERSION"), git.appending(path: "HEAD"), git.appending(path: "packed-refs")]
        if let head = try? String(contentsOf: git.appending(path: "HEAD"), encoding: .utf8), head.hasPrefix("ref: ") {
            inputs.append(git.appending(path: head.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        inputs = inputs.filter { FileManager.default.fileExists(atPath: $0.path) }
        return [
            .buildCommand(
                displayName: "Embedding the version",
                executable: try context.tool(named: "EmbedVersionTool").url,
                arguments: [output.path, root.path],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
