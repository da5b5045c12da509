/// The version `--version` prints.
public enum ConsumerVersion {
    public static let string = "0.1.0"
}
