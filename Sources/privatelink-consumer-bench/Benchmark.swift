/// `privatelink-consumer-bench`: the performance figures of issue 7 (being written).
@main
enum Benchmark {
    static func main() {
        print("privatelink-consumer-bench: not written yet")
    }
}
