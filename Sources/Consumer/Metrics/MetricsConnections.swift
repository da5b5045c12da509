import NIOCore
import Synchronization

/// The metrics listener's open connections, oldest first, and the choice of which one makes room for a
/// newcomer when the cap is reached. Shared by every event loop that accepts or serves a connection.
final class MetricsConnections: Sendable {
    /// Where a connection is in its life, as the cap's choice of a victim needs it.
    enum Phase: Equatable, Sendable {
        /// Opened, or reading a request it has not completed (its first or a later one): the first to go.
        case reading
        /// Answering a complete request (for at most the request timeout): never chosen.
        case answering
        /// Kept alive between requests: the second to go.
        case idle
    }

    struct Entry: Sendable {
        let id: Int
        let channel: any Channel
        var phase: Phase
    }

    /// What `admit` decided.
    struct Admission: Sendable {
        /// The newcomer's id, for `update` and `remove`; nil when it was refused.
        var id: Int?
        /// The connection to close to make room.
        var evicted: (any Channel)?
    }

    let limit: Int
    private let state = Mutex<(nextId: Int, entries: [Entry])>((0, []))
    /// Told the number of open connections after each change (under the lock, so in order).
    private let counted: @Sendable (Int) -> Void

    init(limit: Int, counted: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.limit = limit
        self.counted = counted
    }

    /// Registers a new connection, choosing a victim when the cap is reached: the oldest connection that
    /// has not completed the request it is reading, else the oldest idle one; when every connection is
    /// answering a request (each for at most the request timeout), the newcomer is refused.
    func admit(_ channel: any Channel) -> Admission {
        state.withLock { state in
            var evicted: (any Channel)?
            if state.entries.count >= limit {
                guard let victim = Self.victim(in: state.entries) else { return Admission(id: nil, evicted: nil) }
                evicted = state.entries.remove(at: victim).channel
            }
            let id = state.nextId
            state.nextId += 1
            state.entries.append(Entry(id: id, channel: channel, phase: .reading))
            counted(state.entries.count)
            return Admission(id: id, evicted: evicted)
        }
    }

    /// Which of `entries` (oldest first) to close to make room; nil when none may be.
    private static func victim(in entries: [Entry]) -> Int? {
        entries.firstIndex { $0.phase == .reading } ?? entries.firstIndex { $0.phase == .idle }
    }

    /// A connection moved on in its life (a request completed, it went idle, a new request began).
    func update(_ id: Int, to phase: Phase) {
        state.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.id == id }) else { return }
            if phase == .reading && state.entries[index].phase == .idle {
                // A kept-alive connection starting a new request is as young as that request: a peer that
                // has scraped for hours is not the first to go the moment its request spans two reads.
                var entry = state.entries.remove(at: index)
                entry.phase = phase
                state.entries.append(entry)
            } else {
                state.entries[index].phase = phase
            }
        }
    }

    /// Where connection `id` is, as the cap sees it (nil once it is gone).
    func phase(of id: Int) -> Phase? {
        state.withLock { state in state.entries.first { $0.id == id }?.phase }
    }

    /// A connection closed, or is closing on its own (it no longer holds a place). Idempotent.
    func remove(_ id: Int) {
        state.withLock { state in
            let before = state.entries.count
            state.entries.removeAll { $0.id == id }
            if state.entries.count != before { counted(state.entries.count) }
        }
    }
}
