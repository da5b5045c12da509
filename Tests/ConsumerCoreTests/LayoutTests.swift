import Foundation
import Testing

/// The decision code stays pure: the targets that hold it import nothing that does I/O.
@Suite struct LayoutTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let allowed: [String: Set<String>] = [
        "ConsumerCore": ["Foundation", "AWSModels"],
        "AWSModels": ["Foundation"],
    ]

    @Test(arguments: ["ConsumerCore", "AWSModels"])
    func importsNothingThatDoesIO(target: String) throws {
        let directory = Self.root.appendingPathComponent("Sources/\(target)")
        let files = try #require(FileManager.default.enumerator(atPath: directory.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty, "no sources found under \(directory.path)")
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            // Any import: indented (inside #if), with attributes (@_exported, @preconcurrency) or access modifiers.
            for line in text.split(separator: "\n") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard let at = words.firstIndex(of: "import"), at + 1 < words.count,
                      words[..<at].allSatisfy({ $0.hasPrefix("@") || ["public", "package", "internal", "private", "fileprivate"].contains($0) })
                else { continue }
                let module = String(words[at + 1].split(separator: ".").first ?? "")
                #expect(Self.allowed[target]!.contains(module), "\(target)/\(file) imports \(module)")
            }
        }
    }

    @Test func packageGivesThemNoOtherDependencies() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(manifest.contains(#".target(name: "ConsumerCore", dependencies: ["AWSModels"])"#))
        #expect(manifest.contains(#".target(name: "AWSModels")"#))
    }
}
