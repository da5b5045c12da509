/// The role the login stage authenticates as. The password stays in its file until probe time and
/// never enters a description, an error or a log line.
public struct ProbeCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The PostgreSQL role name.
    public var user: String
    /// The path of a file holding the password (a single trailing newline is ignored).
    public var passwordFile: String
    /// The database to open.
    public var database: String

    /// Credentials for `user`, whose password is in `passwordFile`, opening `database`.
    public init(user: String, passwordFile: String, database: String = "postgres") {
        self.user = user
        self.passwordFile = passwordFile
        self.database = database
    }

    /// Names the user, the password file and the database; never the password.
    public var description: String {
        "ProbeCredentials(user: \(user), passwordFile: \(passwordFile), database: \(database))"
    }
}
