import ConsumerCore
import Testing

/// A list found by key: the first element of a repeated key wins, an element without a key is listed but not
/// found, and the list itself is the one given.
struct FirstByKeyTests {
    @Test func theFirstOfAKeyIsFoundAndTheListIsKeptAsGiven() {
        let pairs: [(key: String?, value: Int)] = [("a", 1), ("b", 2), ("a", 3), (nil, 4), ("c", 5)]
        let index = FirstByKey(pairs, key: \.key)
        #expect(index["a"]?.value == 1 && index["b"]?.value == 2 && index["c"]?.value == 5)
        #expect(index["d"] == nil)
        #expect(index.position(of: "a") == 0 && index.position(of: "c") == 4 && index.position(of: "d") == nil)
        #expect(index.elements.map(\.value) == [1, 2, 3, 4, 5])
    }
}
