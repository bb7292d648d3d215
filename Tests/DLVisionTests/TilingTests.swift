import DLKernels
import DLTensor
import DLVision
import XCTest

final class TilingTests: XCTestCase {
    func testTilesCoverTheImageWithTheOverlapAndEndFlush() {
        let t = Tiling(tile: 400, overlap: 0.25)
        XCTAssertEqual(t.starts(length: 300), [0])
        XCTAssertEqual(t.starts(length: 400), [0])
        XCTAssertEqual(t.starts(length: 1000), [0, 300, 600])
        XCTAssertEqual(t.starts(length: 1001), [0, 300, 600, 601])
        let tiles = t.tiles(width: 1000, height: 350)
        XCTAssertEqual(tiles.count, 3)
        XCTAssertTrue(tiles.allSatisfy { $0.y == 0 && $0.height == 350 && $0.width == 400 })
        // Every pixel of a 2,300 x 2,500 photo lies in a tile.
        let big = t.tiles(width: 2300, height: 2500)
        XCTAssertEqual(big.count, 8 * 8)
        for x in [0, 399, 1234, 2299] { for y in [0, 777, 2499] {
            XCTAssertTrue(big.contains { x >= $0.x && x < $0.x + $0.width && y >= $0.y && y < $0.y + $0.height }, "(\(x), \(y))")
        } }
        XCTAssertNil(t.problem)
        XCTAssertNotNil(Tiling(tile: 400, overlap: 0).with(tile: 8).problem)
    }

    func testCroppingKeepsThePixels() {
        let image = Image(width: 5, height: 4, channels: 3, pixels: (0..<60).map { UInt8($0) })
        let c = image.cropped(x: 1, y: 2, width: 3, height: 2)
        XCTAssertEqual([c.width, c.height], [3, 2])
        XCTAssertEqual((0..<3).map { c[1, 2, $0] }, (0..<3).map { image[3, 3, $0] })
        XCTAssertEqual(image.cropped(x: 0, y: 0, width: 5, height: 4), image)
    }

    /// A head output that fires at one cell of each tile: the boxes come back
    /// shifted by each tile's place, and the copies two overlapping tiles
    /// find of one object merge into one.
    func testTiledDetectionsAreShiftedAndMerged() {
        let grid = YOLOGrid(inputWidth: 32, inputHeight: 32, stride: 8, anchors: [.init(width: 8, height: 8)], classes: 1,
                            tiling: Tiling(tile: 32, overlap: 0.5))
        let image = Image(width: 48, height: 32, channels: 3, pixels: [UInt8](repeating: 0, count: 48 * 32 * 3))
        let inputs = grid.inputs(for: image)
        XCTAssertEqual(inputs.map(\.x), [0, 16])
        XCTAssertTrue(inputs.allSatisfy { $0.scaleX == 1 && $0.scaleY == 1 })
        // Channels t_x, t_y, t_w, t_h, t_o, class; a 4 x 4 grid per tile.
        var out = [Float](repeating: -20, count: 2 * 6 * 16)
        func fire(_ tile: Int, cellX: Int, cellY: Int, score: Float) {
            let base = tile * 6 * 16, cell = cellY * 4 + cellX
            for ch in 0..<4 { out[base + ch * 16 + cell] = 0 }
            out[base + 4 * 16 + cell] = score
            out[base + 5 * 16 + cell] = 0
        }
        fire(0, cellX: 2, cellY: 1, score: 3)   // box [16, 8, 24, 16] in tile 0 = image [16, 8, 24, 16]
        fire(1, cellX: 0, cellY: 1, score: 2)   // box [0, 8, 8, 16] in tile 1 = image [16, 8, 24, 16]: the same object
        fire(1, cellX: 3, cellY: 3, score: 4)   // box [24, 24, 32, 32] in tile 1 = image [40, 24, 48, 32]
        let found = out.withUnsafeBufferPointer { grid.detections($0, inputs: inputs, filter: DetectionFilter(scoreThreshold: 0.5)) }
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertEqual(found.map(\.box), [Box(x1: 40, y1: 24, x2: 48, y2: 32), Box(x1: 16, y1: 8, x2: 24, y2: 16)])
        XCTAssertEqual(found[1].score, 1 / (1 + exp(-3.0)), accuracy: 1e-9, "the better copy is kept")
        // Without tiling the image is one letterboxed input.
        var whole = grid
        whole.tiling = nil
        XCTAssertEqual(whole.inputs(for: image).count, 1)
    }

    func testTheGeometryFileCarriesTheTiling() throws {
        let grid = YOLOGrid(inputWidth: 32, inputHeight: 32, stride: 8, anchors: [.init(width: 8, height: 8)], classes: 1,
                            tiling: Tiling(tile: 400, overlap: 0.2))
        let json = try JSONEncoder().encode(grid)
        XCTAssertTrue(String(decoding: json, as: UTF8.self).contains(#""tiling":{"#))
        XCTAssertEqual(try JSONDecoder().decode(YOLOGrid.self, from: json), grid)
        let old = #"{"input_width": 32, "input_height": 32, "stride": 8, "anchors": [{"width": 8, "height": 8}], "classes": 1}"#
        XCTAssertNil(try JSONDecoder().decode(YOLOGrid.self, from: Data(old.utf8)).tiling)
    }
}

private extension Tiling {
    func with(tile: Int) -> Tiling { var t = self; t.tile = tile; return t }
}

final class OperatingPointTests: XCTestCase {
    /// Hand-worked: two images, three objects, four detections above the threshold.
    func testPrecisionAndRecallAtOneThreshold() {
        let gt = [[Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 0), Detection(box: Box(x1: 20, y1: 20, x2: 30, y2: 30), label: 0)],
                  [Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 1)]]
        let det = [[Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 8), label: 0, score: 0.9),    // IoU 0.8: TP
                    Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 0, score: 0.8),   // the object is taken: FP
                    Detection(box: Box(x1: 20, y1: 20, x2: 26, y2: 26), label: 0, score: 0.7), // IoU 0.36: FP at 0.4, TP at 0.3
                    Detection(box: Box(x1: 20, y1: 20, x2: 30, y2: 30), label: 0, score: 0.1)], // below the threshold
                   [Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 0, score: 0.6)]]  // wrong class: FP
        let bench = DetectionBenchmark(groundTruth: gt, detections: det)
        let p = bench.operatingPoint(iouThreshold: 0.4, scoreThreshold: 0.5)
        XCTAssertEqual([p.truePositives, p.detections, p.objects], [1, 4, 3])
        XCTAssertEqual(p.precision, 0.25)
        XCTAssertEqual(p.recall, 1.0 / 3)
        XCTAssertEqual(bench.operatingPoint(iouThreshold: 0.3, scoreThreshold: 0.5).truePositives, 2)
        XCTAssertEqual(bench.operatingPoint(iouThreshold: 0.4, scoreThreshold: 0.05).truePositives, 2, "the 0.1 box takes the second object")
        XCTAssertEqual(DetectionBenchmark(groundTruth: [[]], detections: [[]]).operatingPoint(scoreThreshold: 0.5).precision, 0)
    }
}

final class IgnoreRuleTests: XCTestCase {
    /// A background slot whose predicted box already overlaps an object with
    /// IoU > 0.5 is ignored; one that does not stays background; the
    /// responsible slot keeps its role.
    func testPredictionsOverlappingAnObjectAreIgnoredNotPunished() {
        let grid = YOLOGrid(inputWidth: 32, inputHeight: 32, stride: 8, anchors: [.init(width: 8, height: 8)], classes: 1)
        let object = Detection(box: Box(x1: 4, y1: 8, x2: 20, y2: 16), label: 0)   // centre (12, 12): cell (1, 1)
        var targets = grid.emptyTargets(batch: 1)
        grid.assign([object], image: 0, into: &targets)
        var out = [Float](repeating: 0, count: 6 * 16)
        let cell = 1 * 4 + 2                      // cell x 2, y 1
        out[0 * 16 + cell] = -20                  // centre x -> 16
        out[2 * 16 + cell] = Float(log(2.0))      // width 16: box [8, 8, 24, 16], IoU 0.6 with the object
        out.withUnsafeBufferPointer { grid.ignoreOverlapping($0, image: 0, objects: [object], into: &targets, threshold: 0.5) }
        XCTAssertEqual(targets.roles[targets.slot(image: 0, anchor: 0, y: 1, x: 1)], 1)
        XCTAssertEqual(targets.roles[targets.slot(image: 0, anchor: 0, y: 1, x: 2)], -1)
        XCTAssertEqual(targets.roles[targets.slot(image: 0, anchor: 0, y: 1, x: 3)], 0)
        XCTAssertEqual(targets.roles.filter { $0 == -1 }.count, 1)
        // At a threshold of 0.7 the same prediction stays background.
        var strict = grid.emptyTargets(batch: 1)
        grid.assign([object], image: 0, into: &strict)
        out.withUnsafeBufferPointer { grid.ignoreOverlapping($0, image: 0, objects: [object], into: &strict, threshold: 0.7) }
        XCTAssertEqual(strict.roles.filter { $0 == -1 }.count, 0)
    }
}
