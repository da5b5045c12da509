/// The version `--version` prints: the release (the repository's `VERSION` file) and the git commit the
/// binary was built from, stamped at build time (`Plugins/VersionStamp`).
public enum ConsumerVersion {
    /// The release version, e.g. `0.2.0`.
    public static let string = BuildInfo.version
    /// The commit's first 12 hex digits, or `unknown` when built outside a git checkout.
    public static let commit = BuildInfo.commit
    /// What `--version` prints.
    public static let full = "\(string) (commit \(commit))"
}
