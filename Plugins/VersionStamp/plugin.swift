import Foundation
import PackagePlugin

/// Stamps the `Consumer` target with the release version (the repository's `VERSION` file, its one place)
/// and the git commit it is built from: a generated `BuildInfo.swift`, regenerated when either changes.
@main
struct VersionStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appending(path: "BuildInfo.swift")
        // Rebuilt when the version or the checked-out commit changes (HEAD, and the ref it points at).
        var inputs = [root.appending(path: "VERSION")]
        let git = root.appending(path: ".git")
        let head = git.appending(path: "HEAD")
        if FileManager.default.fileExists(atPath: head.path()) {
            inputs.append(head)
            if let text = try? String(contentsOf: head, encoding: .utf8), text.hasPrefix("ref: ") {
                let ref = git.appending(path: text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines))
                inputs.append(FileManager.default.fileExists(atPath: ref.path()) ? ref : git.appending(path: "packed-refs"))
            }
        }
        return [.buildCommand(displayName: "Stamping the version and commit", executable: try context.tool(named: "version-stamp").url,
                              arguments: [root.path(), output.path()], inputFiles: inputs, outputFiles: [output])]
    }
}
