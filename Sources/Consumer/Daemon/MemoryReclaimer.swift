import ConsumerStore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the daemon's resident memory close to what it uses between passes.
///
/// A pass over thousands of customers (parsed AWS pages, the registry snapshot) or a probe sweep
/// allocates tens of MiB for a second, once a minute. With glibc's defaults that memory stays resident
/// between passes: freed chunks stay in up to 8 arenas per core, pinned by the few long-lived
/// allocations made in between, and large blocks stay in the heap because the mmap threshold rises
/// after every large free. Measured with 10,000 customers (`privatelink-consumer-bench --only idle`):
/// 188 MiB RSS idle with the defaults, 9 MiB of heap with these settings.
///
/// The calls are looked up at run time because the Glibc module does not export <malloc.h>; on other
/// C libraries this does nothing.
public enum MemoryReclaimer {
    private typealias Trim = @convention(c) (Int) -> Int32
    private typealias Option = @convention(c) (Int32, Int32) -> Int32

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        #if canImport(Glibc)
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: type)
        #else
        return nil
        #endif
    }

    private static let trim = symbol("malloc_trim", as: Trim.self)

    /// At most two malloc arenas, and blocks of 128 KiB or more always straight from mmap (returned to
    /// the kernel when freed). Call first thing in the process, before threads allocate.
    public static func configureAllocator() {
        guard let mallopt = symbol("mallopt", as: Option.self) else { return }
        let arenaMax: Int32 = -8, mmapThreshold: Int32 = -3
        _ = mallopt(arenaMax, 2)
        _ = mallopt(mmapThreshold, 128 * 1024)
    }

    /// Lets `store` drop its caches, then returns free heap pages to the kernel (a few milliseconds).
    static func releaseFreedMemory(_ store: any StateStore) async {
        await store.releaseMemory()
        _ = trim?(0)
    }
}
