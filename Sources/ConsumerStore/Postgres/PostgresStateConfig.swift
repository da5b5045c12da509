import Foundation

/// `state.postgres` of the configuration: where the shared state lives and how to reach it.
public struct PostgresStateConfig: Sendable, Equatable, CustomStringConvertible {
    /// `tls`: as libpq's `sslmode` values of the same names.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain TCP (a database on the same private network segment only).
        case disable
        /// Encrypted; the certificate is checked against `caFile` when one is given, else not at all.
        case require
        /// Encrypted, the chain checked against `caFile` (else the system's roots) and the name against `host`.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    /// A file holding the password (its first line); nil for a server that needs none.
    public var passwordFile: String?
    public var tls: TLSMode
    public var caFile: String?
    /// How long leadership lasts without renewal; a standby takes over after it.
    public var leaseSeconds: Int

    public init(host: String, port: Int = 5432, database: String, user: String, passwordFile: String? = nil,
                tls: TLSMode = .verifyFull, caFile: String? = nil, leaseSeconds: Int = 15) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.passwordFile = passwordFile
        self.tls = tls
        self.caFile = caFile
        self.leaseSeconds = leaseSeconds
    }

    /// `postgres://user@host:port/database`: never the password.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }

    /// A DNS name or an IPv4/IPv6 literal: letters, digits, `.`, `-`, `:`, at most 253 characters.
    public static func isValidHost(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 253
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }
    }

    /// A PostgreSQL identifier as a login or database name: 1-63 printable characters, no quote or NUL.
    public static func isValidIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 63 && text.allSatisfy { $0.isASCII && !$0.isWhitespace && $0 != "\"" && $0 != "\0" && ($0.asciiValue ?? 0) >= 0x21 }
    }
}
