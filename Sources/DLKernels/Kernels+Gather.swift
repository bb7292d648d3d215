/// Row gather and scatter-add, the forward and backward of an embedding
/// lookup: out[i] = table[rows[i]], and gTable[rows[i]] += g[i].
extension Kernels {
    /// Copies row `rows[i]` of `table` [*, d] into row i of `out` [count, d].
    public static func gatherRows(
        _ table: UnsafePointer<Float>, rows: UnsafePointer<Int>, count: Int, d: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count { (out + i * d).update(from: table + rows[i] * d, count: d) }
    }

    /// Adds row i of `g` [count, d] into row `rows[i]` of `gTable`, skipping
    /// rows equal to `skip` (an embedding's padding index).
    public static func scatterAddRows(
        _ g: UnsafePointer<Float>, rows: UnsafePointer<Int>, count: Int, d: Int, skip: Int?,
        into gTable: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count where rows[i] != skip {
            accumulate(g + i * d, into: gTable + rows[i] * d, d)
        }
    }
}
