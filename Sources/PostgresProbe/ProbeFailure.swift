/// Why a probe stopped: what happened (`kind`, `message`) and what the customer should check (`hint`).
public struct ProbeFailure: Sendable, Hashable, CustomStringConvertible {
    /// The failure class. Opaque so that kinds can be added without breaking callers; `name` is stable
    /// and meant for storage and metrics.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        /// The stable identifier, e.g. `connectTimeout`.
        public let name: String

        private init(_ name: String) { self.name = name }

        /// The stable name.
        public var description: String { name }

        // dns
        /// The resolver says the name does not exist (NXDOMAIN).
        public static let dnsNoSuchName = Self("dnsNoSuchName")
        /// The name exists but has no address records.
        public static let dnsNoAnswer = Self("dnsNoAnswer")
        /// No answer from the resolver within the budget (or a temporary resolver failure).
        public static let dnsTimeout = Self("dnsTimeout")
        /// Any other resolver failure.
        public static let dnsFailed = Self("dnsFailed")

        // connect
        /// The address answered the SYN with a RST.
        public static let connectRefused = Self("connectRefused")
        /// No answer to the SYN within the budget.
        public static let connectTimeout = Self("connectTimeout")
        /// The connection was reset while being established.
        public static let connectReset = Self("connectReset")
        /// No route to the address.
        public static let connectUnreachable = Self("connectUnreachable")
        /// Any other connect failure.
        public static let connectFailed = Self("connectFailed")

        // postgres
        /// Something answered the SSLRequest, but not with PostgreSQL's single `S` or `N`.
        public static let notPostgres = Self("notPostgres")
        /// The connection stayed open and silent past the budget.
        public static let postgresTimeout = Self("postgresTimeout")
        /// The peer closed or reset the connection before answering.
        public static let earlyClose = Self("earlyClose")

        // login
        /// The password file is missing, unreadable or empty.
        public static let passwordFileUnreadable = Self("passwordFileUnreadable")
        /// PostgreSQL refused the role: wrong password, unknown role, or pg_hba (SQLSTATE 28P01 / 28000).
        public static let loginRejected = Self("loginRejected")
        /// The database does not exist (SQLSTATE 3D000).
        public static let databaseMissing = Self("databaseMissing")
        /// Login and `SELECT 1` did not finish within the budget.
        public static let loginTimeout = Self("loginTimeout")
        /// Any other login failure (TLS, connection lost, server error).
        public static let loginFailed = Self("loginFailed")

        // any stage
        /// The caller cancelled the probe; it says nothing about the database.
        public static let cancelled = Self("cancelled")
        /// This daemon could not start a thread for the probe (its thread or task limit); says nothing about the database.
        public static let probeUnavailable = Self("probeUnavailable")

        /// Every kind, for documentation and exhaustive tests.
        public static let all: [Kind] = [
            .dnsNoSuchName, .dnsNoAnswer, .dnsTimeout, .dnsFailed,
            .connectRefused, .connectTimeout, .connectReset, .connectUnreachable, .connectFailed,
            .notPostgres, .postgresTimeout, .earlyClose,
            .passwordFileUnreadable, .loginRejected, .databaseMissing, .loginTimeout, .loginFailed,
            .cancelled, .probeUnavailable,
        ]
    }

    /// What went wrong, as a class.
    public var kind: Kind
    /// What happened, e.g. "timed out after 5 s". Never contains the password.
    public var message: String
    /// The customer-side cause to check, naming the setup step or SQL fix.
    public var hint: String
    /// The SQLSTATE PostgreSQL reported, for login failures it answered.
    public var sqlState: String?

    /// A failure of `kind`; `message` says what happened, `hint` what to check.
    public init(kind: Kind, message: String, hint: String, sqlState: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.sqlState = sqlState
    }

    /// "kind: message (SQLSTATE x)".
    public var description: String {
        let state = sqlState.map { " (SQLSTATE \($0))" } ?? ""
        return "\(kind): \(message)\(state)"
    }
}
