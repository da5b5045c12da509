import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `executable` to completion with `posix_spawn`, not Foundation's `Process`, whose `run()` on Linux
/// over-reads a directory entry while listing `/proc/self/fd` and, now and then, crashes the whole calling
/// process (swift-corelibs-foundation #5472, fixed upstream after this toolchain). The child gets pipes for
/// its standard streams and no other descriptor of ours (`closefrom(3)` in the child); `environment` replaces
/// the child's (nil: ours). Both pipes are read on threads of their own, so a chatty child never blocks.
public func spawnToCompletion(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                              stdin: String = "") async throws -> ProcessOutput {
    var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
    guard makePipe(&input), makePipe(&output), makePipe(&errors) else {
        let code = errno
        for fd in input + output + errors where fd >= 0 { close(fd) }
        throw ThrowawayPostgresError("cannot make pipes for \(executable): \(String(cString: strerror(code)))")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, input[0], 0)
    posix_spawn_file_actions_adddup2(&actions, output[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
    if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp ?? [] { free(pointer) }
    }
    var pid: pid_t = 0
    let status = envp.map { envp in posix_spawn(&pid, executable, &actions, nil, argv, envp) }
        ?? posix_spawn(&pid, executable, &actions, nil, argv, environ)
    close(input[0]); close(output[1]); close(errors[1])
    guard status == 0 else {
        close(input[1]); close(output[0]); close(errors[0])
        throw ThrowawayPostgresError("cannot start \(executable): \(String(cString: strerror(status)))")
    }
    let (writeEnd, readOut, readErr) = (input[1], output[0], errors[0])
    let bytes = Array(stdin.utf8)
    async let written: Void = onThread {
        // A child that exits without reading makes write fail with EPIPE instead of killing us with SIGPIPE (blocked
        // on this thread only: children must not inherit an ignored SIGPIPE).
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            offset += count
        }
        close(writeEnd)
    }
    async let stdoutData = onThread { readAll(readOut) }
    async let stderrData = onThread { readAll(readErr) }
    let child = pid
    let exit = await onThread { () -> Int32 in
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            if errno != EINTR { return -1 }  // not ours to wait for: never a made-up success
        }
        // Exited: its code; killed by a signal: the signal's number, as Foundation's terminationStatus says it.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : status & 0x7f
    }
    _ = await written
    let (out, err) = await (stdoutData, stderrData)
    return ProcessOutput(status: exit, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
}

/// A pipe whose ends close on exec, made so atomically (`pipe2`, looked up like `addCloseFrom`) when the C
/// library has it: no child started meanwhile by another thread inherits them.
private func makePipe(_ fds: inout [Int32]) -> Bool {
    if let pipe2 = pipeWithFlags { return pipe2(&fds, O_CLOEXEC) == 0 }
    guard pipe(&fds) == 0 else { return false }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return true
}

private let pipeWithFlags: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32)? = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pipe2") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)
}()

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; not in the Glibc module's headers):
/// no descriptor of ours but the three reaches the child.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// Everything `fd` gives until its end; closes it.
private func readAll(_ fd: Int32) -> [UInt8] {
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { break }
        data += buffer[..<count]
    }
    close(fd)
    return data
}
