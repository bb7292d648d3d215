@testable import DLNN
import DLTensor
@testable import DLTrain
import XCTest

/// The face trainer's online augmentation on hand-made photos.
final class FaceAugmentationTests: XCTestCase {
    /// An 8 x 8 photo whose pixel (y, x) holds 10 y + x + 1.
    static func value(_ y: Int, _ x: Int) -> Float { Float(10 * y + x + 1) }
    static let photo: [Float] = (0..<64).map { (i: Int) -> Float in value(i / 8, i % 8) }

    func trainer(_ a: FaceRecipe.Augmentation) throws -> FaceTrainer {
        let set = FaceSet(names: ["a", "b"], labels: [0, 1], numbers: [1, 1], pixels: Self.photo + Self.photo, shape: [1, 8, 8])
        let layers = [LayerSpec(name: "f", type: "flatten", inputs: ["image"]), LayerSpec(name: "e", type: "l2_normalize", inputs: ["f"])]
        let spec = ModelSpec(inputs: [InputSpec(name: "image", shape: [1, 8, 8])], layers: layers, outputs: ["e"])
        let options = FaceTrainer.Options(epochs: 1, stepsPerEpoch: 1, identities: 2, images: 1, augmentation: a)
        return FaceTrainer(model: try GraphModel(spec: spec), train: set, options: options)
    }

    func testFlipAndShiftMoveWholePixelsWithEdgesReplicated() throws {
        var rng = SeededGenerator(seed: 1)
        let out = try trainer(.init(flip: 1, shift: 0)).augmentedBatch([0], rng: &rng).data
        for y in 0..<8 { for x in 0..<8 { XCTAssertEqual(out[y * 8 + x], Self.value(y, 7 - x)) } }
        // A shift of up to 2 never invents a value: every output is an input pixel.
        let shifted = try trainer(.init(flip: 0, shift: 2))
        let allowed = Set(Self.photo)
        for _ in 0..<20 {
            let o = shifted.augmentedBatch([0], rng: &rng).data
            XCTAssertTrue(o.allSatisfy { allowed.contains($0) })
        }
    }

    func testRotationResamplesWithinTheRange() throws {
        var rng = SeededGenerator(seed: 2)
        let o = try trainer(.init(flip: 0, shift: 0, rotate: 30)).augmentedBatch([0], rng: &rng).data
        XCTAssertTrue(o.allSatisfy { $0 >= 1 && $0 <= 78 })
        XCTAssertNotEqual(o, Self.photo, "rotated")
        let square: [Float] = [1, 2, 3, 4]
        XCTAssertEqual(FaceTrainer.bilinear(square, base: 0, w: 2, h: 2, x: 0.5, y: 0.5), 2.5)
        XCTAssertEqual(FaceTrainer.bilinear(square, base: 0, w: 2, h: 2, x: 1, y: 0), 2)
        XCTAssertEqual(FaceTrainer.bilinear(square, base: 0, w: 2, h: 2, x: -3, y: 9), 3, "clamped to the edge")
    }

    func testErasingZeroesOneRectangleOfTenToTwentyFivePercent() throws {
        var rng = SeededGenerator(seed: 3)
        let t = try trainer(.init(flip: 0, shift: 0, erase: 1))
        for _ in 0..<20 {
            let o = t.augmentedBatch([0], rng: &rng).data
            let zeros = (0..<64).filter { o[$0] == 0 }
            XCTAssertTrue((0..<64).allSatisfy { o[$0] == 0 || o[$0] == Self.photo[$0] })
            XCTAssertTrue((4...20).contains(zeros.count), "\(zeros.count) pixels erased")
            let ys = zeros.map { $0 / 8 }, xs = zeros.map { $0 % 8 }
            let box = (ys.max()! - ys.min()! + 1) * (xs.max()! - xs.min()! + 1)
            XCTAssertEqual(box, zeros.count, "one rectangle")
        }
    }
}
