import DLTensor
import DLTesting
@testable import DLVision
import Foundation
import XCTest

/// Color conversion, resizing and normalization against Pillow (float-mode
/// resampling, see scripts/fixtures/vision_fixtures.py) and hand-derived cases.
final class PreprocessingTests: XCTestCase {
    var pixels: [String: Tensor] { ImageDecoderTests.pixels }

    func fixtureImage(_ name: String) throws -> Image {
        try ImageDecoder().decode(ImageDecoderTests.fixture(name))
    }

    func testGrayConversionMatchesPillow() throws {
        let gray = try fixtureImage("variant-rgb.png").grayscale()
        XCTAssertEqual(gray.channels, 1)
        XCTAssertEqual(gray.pixels.map(Float.init), pixels["rgb_to_gray"]!.data)
        // Hand case: (255, 0, 0) -> (255 * 19595 + 32768) >> 16 = 76.
        XCTAssertEqual(Image(width: 1, height: 1, channels: 3, pixels: [255, 0, 0]).grayscale().pixels, [76])
        XCTAssertEqual(Image(width: 1, height: 1, channels: 1, pixels: [7]).rgb().pixels, [7, 7, 7])
    }

    func testAreaShrinkMatchesPillowBox() throws {
        let image = try fixtureImage("fmnist-0.png")
        let src = image.pixels.map(Float.init)
        let half = Resampler.resize(src, width: 28, height: 28, channels: 1, toWidth: 14, toHeight: 14, method: .auto)
        assertClose(half, pixels["area_28_to_14"]!.data, rtol: 1e-5, atol: 1e-3)
        let q = Resampler.resize(src, width: 28, height: 28, channels: 1, toWidth: 4, toHeight: 7, method: .area)
        assertClose(q, pixels["area_28_to_7x4"]!.data, rtol: 1e-5, atol: 1e-3)
    }

    func testBilinearEnlargeMatchesPillow() throws {
        let image = try fixtureImage("fmnist-0.png")
        let out = Resampler.resize(image.pixels.map(Float.init), width: 28, height: 28, channels: 1,
                                   toWidth: 36, toHeight: 40, method: .auto)
        assertClose(out, pixels["bilinear_28_to_40x36"]!.data, rtol: 1e-5, atol: 1e-3)
    }

    func testAreaWithAFractionalFactorByHand() {
        // 3 -> 2: s = 1.5. Output 0 covers [0, 1.5): (1*a + 0.5*b) / 1.5;
        // output 1 covers [1.5, 3): (0.5*b + 1*c) / 1.5.
        let out = Resampler.resize([3, 6, 9], width: 3, height: 1, channels: 1, toWidth: 2, toHeight: 1, method: .area)
        assertClose(out, [(3 + 3) / 1.5, (3 + 9) / 1.5], rtol: 0, atol: 1e-5)
        // Bilinear 2 -> 4: src = (i + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamp -> [a, .75a+.25b, .25a+.75b, b].
        let up = Resampler.resize([0, 8], width: 2, height: 1, channels: 1, toWidth: 4, toHeight: 1, method: .bilinear)
        assertClose(up, [0, 2, 6, 8], rtol: 0, atol: 1e-6)
        // Interleaved channels stay separate.
        let rgb = Resampler.resize([0, 100, 8, 200], width: 2, height: 1, channels: 2, toWidth: 1, toHeight: 1, method: .area)
        assertClose(rgb, [4, 150], rtol: 0, atol: 1e-5)
    }

    func testFullPipelineShrinkInvertNormalize() throws {
        let image = try fixtureImage("fmnist-0-56.png")
        XCTAssertEqual(image.width, 56)
        let pre = try ImagePreprocessing(channels: 1, height: 28, width: 28, mean: [0.2860], std: [0.3530], invert: true)
        let x = pre.tensor(from: image)
        XCTAssertEqual(x.shape, [1, 1, 28, 28])
        assertClose(x.data, pixels["preprocess_56_invert_norm"]!.data, rtol: 1e-5, atol: 1e-4)
    }

    func testRGBPipelineIsChannelFirstWithPerChannelStats() throws {
        // 1x2 RGB image, kept at size: channel planes [r0 r1], [g0 g1], [b0 b1].
        let image = Image(width: 2, height: 1, channels: 3, pixels: [255, 0, 51, 0, 255, 102])
        let pre = try ImagePreprocessing(channels: 3, height: 1, width: 2, mean: [0.5, 0, 0.2], std: [0.5, 1, 0.1])
        let x = pre.tensor(from: image)
        XCTAssertEqual(x.shape, [1, 3, 1, 2])
        // r: (1 - .5)/.5 = 1, (0 - .5)/.5 = -1; g: 0, 1; b: (.2 - .2)/.1 = 0, (.4 - .2)/.1 = 2.
        assertClose(x.data, [1, -1, 0, 1, 0, 2], rtol: 0, atol: 1e-5)
        // A gray file for an RGB model is replicated; an RGB file for a gray model is converted.
        let grayModel = try ImagePreprocessing(channels: 1, height: 1, width: 2, scale: 1)
        // (255*19595 + 51*7471 + 32768) >> 16 = 82; (255*38470 + 102*7471 + 32768) >> 16 = 161.
        XCTAssertEqual(grayModel.tensor(from: image).data, [82, 161])
    }

    func testBadConfigurationsThrow() {
        XCTAssertThrowsError(try ImagePreprocessing(channels: 2, height: 28, width: 28))
        XCTAssertThrowsError(try ImagePreprocessing(channels: 1, height: 0, width: 28))
        XCTAssertThrowsError(try ImagePreprocessing(channels: 3, height: 28, width: 28, mean: [0, 0]))
        XCTAssertThrowsError(try ImagePreprocessing(channels: 1, height: 28, width: 28, std: [0]))
    }
}

final class PixelArrayTests: XCTestCase {
    func testPixelArraysGoThroughTheSamePipeline() throws {
        let image = try ImageDecoder().decode(ImageDecoderTests.fixture("fmnist-0.png"))
        let pre = try ImagePreprocessing(channels: 1, height: 14, width: 14, mean: [0.2860], std: [0.3530])
        let fromFile = pre.tensor(from: image)
        let values = image.pixels.map(Float.init)
        assertClose(try pre.tensor(fromPixels: values, shape: [28, 28]), fromFile, rtol: 0, atol: 1e-6)
        assertClose(try pre.tensor(fromPixels: values, shape: [1, 28, 28]), fromFile, rtol: 0, atol: 1e-6)
    }

    func testChannelFirstRGBPixels() throws {
        // CHW planes r = [255, 0], g = [0, 255], b = [0, 0], one row of two pixels.
        let values: [Float] = [255, 0, 0, 255, 0, 0]
        let rgb = try ImagePreprocessing(channels: 3, height: 1, width: 2, scale: 1)
        XCTAssertEqual(try rgb.tensor(fromPixels: values, shape: [3, 1, 2]).data, values)
        // Gray: 0.299 * 255 = 76.245, 0.587 * 255 = 149.685.
        let gray = try ImagePreprocessing(channels: 1, height: 1, width: 2, scale: 1)
        assertClose(try gray.tensor(fromPixels: values, shape: [3, 1, 2]).data, [76.245, 149.685], rtol: 0, atol: 1e-3)
        // Gray pixels for an RGB model are replicated.
        XCTAssertEqual(try rgb.tensor(fromPixels: [10, 20], shape: [1, 2]).data, [10, 20, 10, 20, 10, 20])
    }

    func testBadPixelArraysThrow() throws {
        let pre = try ImagePreprocessing(channels: 1, height: 2, width: 2)
        XCTAssertThrowsError(try pre.tensor(fromPixels: [0, 1, 2], shape: [2, 2]))
        XCTAssertThrowsError(try pre.tensor(fromPixels: [0, 1, 2, 300], shape: [2, 2]))
        XCTAssertThrowsError(try pre.tensor(fromPixels: [0, 1, 2, .nan], shape: [2, 2]))
        XCTAssertThrowsError(try pre.tensor(fromPixels: [0, 1, 2, 3], shape: [4]))
        XCTAssertThrowsError(try pre.tensor(fromPixels: [0, 1, 2, 3, 4, 5, 6, 7], shape: [2, 2, 2]))
        XCTAssertThrowsError(try pre.tensor(fromPixels: [], shape: [100_000, 100_000])) {
            XCTAssertEqual($0 as? ImageError, .tooLarge(width: 100_000, height: 100_000, maxPixels: 4096 * 4096))
        }
    }
}
