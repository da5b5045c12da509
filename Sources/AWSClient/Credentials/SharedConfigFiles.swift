import Foundation

/// The AWS shared files (`~/.aws/credentials`, `~/.aws/config`) as the SDKs read them:
/// `[name]` sections in the credentials file, `[profile name]` (or `[default]`) in the config file.
public struct SharedConfigFiles: Sendable, Equatable {
    /// The profile to use: `AWS_PROFILE`, else `default`.
    public let profileName: String
    /// Whether the profile was chosen explicitly (then a missing profile is an error, not a fall-through).
    public let profileExplicit: Bool
    public let credentialsPath: String
    public let configPath: String
    /// The profile's settings, the credentials file's winning over the config file's.
    public let settings: [String: String]
    /// Whether either file has a section for the profile.
    public let profileFound: Bool

    /// Reads both files for the profile named by `environment`; missing files are simply empty.
    public init(environment: [String: String]) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let explicit = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let profile = explicit ?? "default"
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.aws/config"
        profileName = profile
        profileExplicit = explicit != nil
        credentialsPath = credentialsFile
        configPath = configFile
        let configSections = Self.read(configFile).map(Self.parse) ?? [:]
        let fromConfig = profile == "default"
            ? configSections["default"] ?? configSections["profile default"]
            : configSections["profile \(profile)"]
        let fromCredentials = Self.read(credentialsFile).flatMap { Self.parse($0)[profile] }
        profileFound = fromConfig != nil || fromCredentials != nil
        settings = (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, credentials in credentials }
    }

    static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// INI sections → key/value settings. Comments (`#`, `;`) and indented sub-settings are skipped.
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if let first = rawLine.first, first == " " || first == "\t" { continue }
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else { current = nil; continue }
                let name = line[line.index(after: line.startIndex)..<close]
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let comment = value.range(of: " #") ?? value.range(of: " ;") {
                value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            sections[current]?[key] = value
        }
        return sections
    }
}

/// Static keys (and session token) of `AWS_PROFILE` from the shared files.
public struct ProfileCredentialSource: CredentialSource {
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public var name: String { "profile \(SharedConfigFiles(environment: environment).profileName)" }

    public func load() async throws(AWSClientError) -> AWSCredentials? {
        let files = SharedConfigFiles(environment: environment)
        guard files.profileFound else {
            if files.profileExplicit {
                throw .credentialFailure(name, "AWS_PROFILE=\(files.profileName) is not in \(files.credentialsPath) or \(files.configPath)")
            }
            return nil
        }
        let key = files.settings["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = files.settings["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, secret) {
        case (let key?, let secret?):
            let token = files.settings["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyId: key, secretAccessKey: secret, sessionToken: token)
        case (nil, nil):
            if files.profileExplicit {
                throw .credentialFailure(name, "profile \(files.profileName) has no aws_access_key_id/aws_secret_access_key (role, SSO and process profiles are not supported; use web identity, the instance role or static keys)")
            }
            return nil
        default:
            throw .credentialFailure(name, "profile \(files.profileName) has only one of aws_access_key_id and aws_secret_access_key; set both")
        }
    }
}
