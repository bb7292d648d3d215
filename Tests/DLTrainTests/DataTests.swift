import DLNN
import DLTensor
import DLTesting
@testable import DLTrain
import Foundation
import XCTest

final class DataTests: XCTestCase {
    let root = FashionMNIST.defaultRoot

    func testFashionMNISTTestSplit() throws {
        let test = try FashionMNIST.load(.test)
        XCTAssertEqual(test.images.shape, [10_000, 1, 28, 28])
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.classes.count, 10)
        XCTAssertEqual(test.classes[9], "Ankle boot")
        // The test set is balanced: 1,000 images per class.
        XCTAssertEqual(test.classCounts, [Int](repeating: 1000, count: 10))
        XCTAssertEqual(Array(test.labels.prefix(5)), [9, 2, 1, 1, 6])
        XCTAssertEqual(test.images.data.min(), 0)
        XCTAssertEqual(test.images.data.max(), 1)
    }

    func testFashionMNISTTrainSplitAndStatistics() throws {
        let train = try FashionMNIST.load(.train)
        XCTAssertEqual(train.images.shape, [60_000, 1, 28, 28])
        XCTAssertEqual(train.classCounts, [Int](repeating: 6000, count: 10))
        XCTAssertEqual(Array(train.labels.prefix(5)), [9, 0, 0, 3, 0])
        // The commonly quoted statistics of the training set: mean 0.2860, std 0.3530.
        let norm = Normalization.fit(train.images)
        XCTAssertEqual(norm.mean[0], 0.2860, accuracy: 1e-4)
        XCTAssertEqual(norm.std[0], 0.3530, accuracy: 1e-4)
    }

    // MARK: corrupt files

    func tempFile(_ bytes: [UInt8], name: String = "f") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dltrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let u = dir.appendingPathComponent(name)
        try Data(bytes).write(to: u)
        return u
    }

    func assertDatasetError(_ body: @autoclosure () throws -> Any, contains needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard case TrainingError.dataset(let m) = e else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertTrue(m.contains(needle), "'\(m)' does not mention '\(needle)'", file: file, line: line)
        }
    }

    func testIDXRoundTripAndValidation() throws {
        let good = IDXFile(dims: [2, 3], bytes: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try IDXFile.parse(good.encoded()), good)
        XCTAssertEqual(try IDXFile.read(tempFile(good.encoded())), good)
        let enc = good.encoded()
        assertDatasetError(try IDXFile.parse([0, 0]), contains: "too short")
        assertDatasetError(try IDXFile.parse([1, 0, 8, 2] + enc.dropFirst(4)), contains: "magic")
        assertDatasetError(try IDXFile.parse([0, 0, 0x0d, 2] + enc.dropFirst(4)), contains: "not supported")
        assertDatasetError(try IDXFile.parse([0, 0, 8, 0]), contains: "dimensions")
        assertDatasetError(try IDXFile.parse([0, 0, 8, 9]), contains: "dimensions")
        assertDatasetError(try IDXFile.parse(Array(enc.prefix(9))), contains: "truncated header")
        assertDatasetError(try IDXFile.parse(Array(enc.dropLast())), contains: "truncated")
        assertDatasetError(try IDXFile.parse(enc + [7]), contains: "trailing")
        assertDatasetError(try IDXFile.parse([0, 0, 8, 1, 0, 0, 0, 0]), contains: "dimension 0 is 0")
        // Huge dimensions do not overflow or allocate: they are just "truncated".
        assertDatasetError(try IDXFile.parse([0, 0, 8, 4] + [UInt8](repeating: 0xff, count: 16)), contains: "truncated")
        assertDatasetError(try IDXFile.read(URL(fileURLWithPath: "/nonexistent/idx")), contains: "cannot read")
    }

    func testCorruptGzipIsAnErrorNotACrash() throws {
        let real = try Data(contentsOf: root.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        // Truncated in the middle of the deflate stream, and just before the trailer.
        assertDatasetError(try IDXFile.read(tempFile([UInt8](real.prefix(real.count / 2)))), contains: "truncated")
        assertDatasetError(try IDXFile.read(tempFile([UInt8](real.dropLast(3)))), contains: "truncated")
        // A flipped byte in the compressed data: zlib reports it (or the CRC does).
        var flipped = [UInt8](real)
        flipped[flipped.count / 2] ^= 0xff
        assertDatasetError(try IDXFile.read(tempFile(flipped)), contains: "corrupt")
        assertDatasetError(try Gzip.decompress(Data([0x1f, 0x8b])), contains: "truncated")
        assertDatasetError(try Gzip.decompress(Data([1, 2, 3])), contains: "magic")
        // The output bound is enforced.
        assertDatasetError(try Gzip.decompress(real, maxBytes: 100), contains: "more than 100")
        // Intact, the file decompresses to the IDX labels file.
        let labels = try IDXFile.read(tempFile([UInt8](real)))
        XCTAssertEqual(labels.dims, [10_000])
    }

    func testMismatchedImageAndLabelFiles() throws {
        let images = try tempFile(IDXFile(dims: [3, 2, 2], bytes: [UInt8](repeating: 255, count: 12)).encoded())
        let labels = try tempFile(IDXFile(dims: [2], bytes: [0, 1]).encoded())
        assertDatasetError(try IDXDataset.load(images: images, labels: labels, classes: ["a", "b"]), contains: "3 images but")
        let badLabel = try tempFile(IDXFile(dims: [3], bytes: [0, 1, 5]).encoded())
        assertDatasetError(try IDXDataset.load(images: images, labels: badLabel, classes: ["a", "b"]), contains: "label 5")
        let ok = try IDXDataset.load(images: images, labels: try tempFile(IDXFile(dims: [3], bytes: [0, 1, 1]).encoded()), classes: ["a", "b"])
        XCTAssertEqual(ok.images.shape, [3, 1, 2, 2])
        XCTAssertEqual(ok.images.data, [Float](repeating: 1, count: 12))
    }

    func testRegistryDirectoriesAndReferences() throws {
        let base = try tempFile([], name: "x").deletingLastPathComponent()
        let dir = base.appendingPathComponent("shapes")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(IDXFile(dims: [2, 2, 2], bytes: [0, 1, 2, 3, 4, 5, 6, 7]).encoded()).write(to: dir.appendingPathComponent("train-images-idx3-ubyte"))
        try Data(IDXFile(dims: [2], bytes: [0, 2]).encoded()).write(to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
        let reg = DatasetRegistry(directoryRoot: base)
        let ds = try reg.load(DatasetReference(parsing: "shapes"))
        XCTAssertEqual(ds.classes, ["0", "1", "2"])
        try "circle\nsquare\ntriangle\n".write(to: dir.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try reg.classes(of: "shapes"), ["circle", "square", "triangle"])
        assertDatasetError(try reg.validate(DatasetReference(parsing: "shapes:test")), contains: "test split")
        assertDatasetError(try reg.load(DatasetReference(parsing: "../etc")), contains: "invalid dataset name")
        assertDatasetError(try reg.load(DatasetReference(parsing: "nope")), contains: "unknown dataset 'nope'")
        assertDatasetError(try DatasetRegistry().load(DatasetReference(parsing: "shapes")), contains: "unknown dataset")
        assertDatasetError(try DatasetReference(parsing: "fashion-mnist:dev"), contains: "unknown split")
        XCTAssertEqual(try DatasetReference(parsing: "fashion-mnist:test"), DatasetReference(name: "fashion-mnist", split: .test))
        XCTAssertNoThrow(try DatasetRegistry().validate(DatasetReference(parsing: "fashion-mnist:test")))
    }

    // MARK: splits, normalization, augmentation

    func smallDataset(_ n: Int = 20, c: Int = 2, h: Int = 5, w: Int = 4) throws -> Dataset {
        var rng = SeededGenerator(seed: 3)
        return try Dataset(images: Tensor.uniform([n, c, h, w], low: 0, high: 1, rng: &rng),
                           labels: (0..<n).map { $0 % 3 }, classes: ["a", "b", "c"])
    }

    func testSeededSplitIsDisjointAndRepeatable() throws {
        let ds = try smallDataset()
        let (a, devA) = ds.split(devFraction: 0.25, seed: 1)
        let (b, devB) = ds.split(devFraction: 0.25, seed: 1)
        XCTAssertEqual(a.count, 15); XCTAssertEqual(devA?.count, 5)
        XCTAssertEqual(a.images.data, b.images.data)
        XCTAssertEqual(devA?.labels, devB?.labels)
        let (_, devC) = ds.split(devFraction: 0.25, seed: 2)
        XCTAssertNotEqual(devA?.images.data, devC?.images.data)
        // Together the two halves hold every image exactly once.
        let all = Set(ds.images.data), halves = Set(a.images.data + devA!.images.data)
        XCTAssertEqual(all, halves)
        XCTAssertNil(ds.split(devFraction: 0, seed: 1).dev)
    }

    func testNormalizationGivesZeroMeanUnitStd() throws {
        let ds = try smallDataset()
        let norm = Normalization.fit(ds.images)
        XCTAssertEqual(norm.mean.count, 2)
        let after = Normalization.fit(norm(ds.images))
        assertClose(after.mean, [0, 0], rtol: 0, atol: 1e-5)
        assertClose(after.std, [1, 1], rtol: 0, atol: 1e-4)
    }

    func testConfigPreprocessingMatchesTrainingNormalization() throws {
        let ds = try smallDataset(4, c: 2, h: 3, w: 3)
        let norm = Normalization(mean: [0.3, 0.5], std: [0.2, 0.4])
        let pre = ModelConfig.Preprocessing(scale: 1.0 / 255, mean: norm.mean, std: norm.std)
        assertClose(pre.apply(toUnitImages: ds.images), norm(ds.images), rtol: 1e-5, atol: 1e-5)
        // Inverted: v -> 255 - v, i.e. x -> 1 - x.
        let inv = ModelConfig.Preprocessing(scale: 1.0 / 255, mean: [0], std: [1], invert: true)
        assertClose(inv.apply(toUnitImages: ds.images).data, ds.images.data.map { 1 - $0 }, rtol: 0, atol: 1e-6)
    }

    func testFlipTwiceIsIdentityAndMirrors() throws {
        var img: [Float] = [1, 2, 3, 4, 5, 6]  // [1, 2, 3]
        img.withUnsafeMutableBufferPointer { Augmentation.flipHorizontally($0.baseAddress!, c: 1, h: 2, w: 3) }
        XCTAssertEqual(img, [3, 2, 1, 6, 5, 4])
        img.withUnsafeMutableBufferPointer { Augmentation.flipHorizontally($0.baseAddress!, c: 1, h: 2, w: 3) }
        XCTAssertEqual(img, [1, 2, 3, 4, 5, 6])
    }

    func testShiftIsACropOfThePaddedImage() {
        // 3x3 image, shift by (dy 1, dx -1): out[y][x] = in[y+1][x-1], zero outside.
        var img: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        var scratch = [Float](repeating: 0, count: 9)
        img.withUnsafeMutableBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { Augmentation.shift(p.baseAddress!, c: 1, h: 3, w: 3, dy: 1, dx: -1, scratch: $0.baseAddress!) }
        }
        XCTAssertEqual(img, [0, 4, 5, 0, 7, 8, 0, 0, 0])
    }

    func testAugmentationProperties() throws {
        let ds = try smallDataset(8, c: 1, h: 6, w: 6)
        let shape = ds.images.shape
        // Crop keeps the shape and the values stay pixels of the image or zero padding.
        var batch = ds.images.data
        var rng = SeededGenerator(seed: 9)
        Augmentation(cropPadding: 2).apply(&batch, shape: shape, rng: &rng)
        XCTAssertEqual(batch.count, shape.product)
        let pixels = Set(ds.images.data).union([0])
        XCTAssertTrue(batch.allSatisfy(pixels.contains))
        XCTAssertNotEqual(batch, ds.images.data)
        // Flips only: every image is either itself or its mirror, and about half are flipped.
        var flipped = ds.images.data
        Augmentation(horizontalFlip: true).apply(&flipped, shape: shape, rng: &rng)
        var nFlipped = 0
        for i in 0..<8 {
            let orig = Array(ds.images.data[(i * 36)..<(i * 36 + 36)]), now = Array(flipped[(i * 36)..<(i * 36 + 36)])
            var mirror = orig
            mirror.withUnsafeMutableBufferPointer { Augmentation.flipHorizontally($0.baseAddress!, c: 1, h: 6, w: 6) }
            XCTAssertTrue(now == orig || now == mirror)
            if now == mirror { nFlipped += 1 }
        }
        XCTAssertTrue((1...7).contains(nFlipped), "\(nFlipped) of 8 flipped")
        // Brightness/contrast keep pixels in [0, 1]; the same seed repeats exactly.
        var x1 = ds.images.data, x2 = ds.images.data
        var r1 = SeededGenerator(seed: 5), r2 = SeededGenerator(seed: 5)
        let aug = Augmentation(horizontalFlip: true, cropPadding: 1, brightness: 0.3, contrast: 0.5)
        aug.apply(&x1, shape: shape, rng: &r1)
        aug.apply(&x2, shape: shape, rng: &r2)
        XCTAssertEqual(x1, x2)
        XCTAssertTrue(x1.allSatisfy { (0...1).contains($0) })
        // The identity augmentation changes nothing.
        var same = ds.images.data
        Augmentation().apply(&same, shape: shape, rng: &rng)
        XCTAssertEqual(same, ds.images.data)
    }
}
