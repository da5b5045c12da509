#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the login password at probe time, so that rotating the file needs no restart. Errors describe
/// the file, never its content.
enum PasswordFile {
    /// Longer files are not password files.
    static let maxBytes = 4096

    /// The password in `path`, without one trailing newline; or what is wrong with the file.
    static func load(_ path: String) -> Result<String, PasswordFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(PasswordFileError("\(path): \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failure(PasswordFileError("\(path): \(String(cString: strerror(errno)))"))
        }
        // A FIFO or device could block or never end.
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(PasswordFileError("\(path) is not a regular file")) }
        guard info.st_size <= maxBytes else {
            return .failure(PasswordFileError("\(path) is larger than \(maxBytes) bytes; it should hold only the password"))
        }

        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { return .failure(PasswordFileError("\(path): \(String(cString: strerror(errno)))")) }
            if n == 0 { break }
            count += n
        }
        var content = bytes[..<count]
        if content.last == UInt8(ascii: "\n") { content = content.dropLast() }
        if content.last == UInt8(ascii: "\r") { content = content.dropLast() }
        guard !content.isEmpty else { return .failure(PasswordFileError("\(path) is empty")) }
        return .success(String(decoding: content, as: UTF8.self))
    }
}

/// What is wrong with a password file (never what is in it).
struct PasswordFileError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
