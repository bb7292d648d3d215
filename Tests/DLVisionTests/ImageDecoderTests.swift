import DLTensor
import DLTesting
import DLVision
import Foundation
import XCTest

/// Decoding real PNG/JPEG files written by scripts/fixtures/vision_fixtures.py
/// against the pixel values Pillow decodes from the same files.
final class ImageDecoderTests: XCTestCase {
    struct Manifest: Decodable {
        struct Entry: Decodable { let file: String; let label: Int; let pixels: String }
        let classes: [String]
        let images: [Entry]
    }

    static func fixture(_ name: String) throws -> Data {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
        return try Data(contentsOf: url)
    }

    static let pixels: [String: Tensor] = {
        let url = Bundle.module.url(forResource: "pixels", withExtension: "json", subdirectory: "Fixtures")!
        return try! loadFixtures(url)
    }()

    let decoder = ImageDecoder()

    func testEveryFixtureDecodesToPillowsPixels() throws {
        let manifest = try JSONDecoder().decode(Manifest.self, from: Self.fixture("manifest.json"))
        XCTAssertEqual(manifest.images.count, 16)
        for entry in manifest.images {
            let image = try decoder.decode(Self.fixture(entry.file))
            let expected = try XCTUnwrap(Self.pixels[entry.pixels], entry.file)
            let channels = expected.rank == 3 ? expected.shape[2] : 1
            XCTAssertEqual([image.height, image.width, image.channels], [expected.shape[0], expected.shape[1], channels], entry.file)
            // PNG is lossless: exact. JPEG: same libjpeg-turbo islow IDCT, so
            // equal up to version differences of at most one level.
            let tolerance: Float = entry.file.hasSuffix(".png") ? 0 : 1
            assertClose(image.pixels.map(Float.init), expected.data, rtol: 0, atol: tolerance, entry.file)
        }
    }

    func testPNGIsTheDatasetImageExactly() throws {
        let image = try decoder.decode(Self.fixture("fmnist-0.png"), mediaType: "image/png")
        XCTAssertEqual(image.width, 28)
        XCTAssertEqual(image.height, 28)
        XCTAssertEqual(image.channels, 1)
        // Test image 0 (an ankle boot): row 23 as stored in t10k-images.
        let expected = Self.pixels["fmnist-0_png"]!
        XCTAssertEqual(image.pixels.map(Float.init), expected.data)
        XCTAssertEqual(image[0, 0, 0], 0)
    }

    func testChannelsFollowTheFile() throws {
        XCTAssertEqual(try decoder.decode(Self.fixture("variant-rgb.png")).channels, 3)
        XCTAssertEqual(try decoder.decode(Self.fixture("variant-rgba.png")).channels, 3)
        XCTAssertEqual(try decoder.decode(Self.fixture("variant-palette.png")).channels, 3)
        XCTAssertEqual(try decoder.decode(Self.fixture("variant-gray16.png")).channels, 1)
        XCTAssertEqual(try decoder.decode(Self.fixture("variant-bilevel.png")).channels, 1)
        XCTAssertEqual(try decoder.decode(Self.fixture("variant-rgb.jpg")).channels, 3)
        XCTAssertEqual(try decoder.decode(Self.fixture("fmnist-1.jpg")).channels, 1)
    }

    func testBytesWinOverAMislabelledMediaType() throws {
        let image = try decoder.decode(Self.fixture("fmnist-2.jpg"), mediaType: "image/png")
        XCTAssertEqual(image.width, 28)
    }

    func testUnsupportedMediaTypeAndGarbage() throws {
        XCTAssertThrowsError(try decoder.decode(Self.fixture("fmnist-0.png"), mediaType: "image/gif")) {
            guard case ImageError.unsupportedFormat = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try decoder.decode(Self.fixture("not-an-image.txt"))) {
            guard case ImageError.unsupportedFormat = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try decoder.decode(Data())) { XCTAssertEqual($0 as? ImageError, .empty) }
        XCTAssertEqual(ImageFormat(mediaType: "image/jpeg; q=0.9"), .jpeg)
        XCTAssertEqual(ImageFormat(mediaType: "IMAGE/PNG"), .png)
        XCTAssertNil(ImageFormat(mediaType: "application/json"))
    }

    func testCorruptAndTruncatedFilesAreTypedErrors() throws {
        for (name, format) in [("corrupt-truncated.png", ImageFormat.png), ("corrupt-crc.png", .png),
                               ("corrupt-truncated.jpg", .jpeg), ("corrupt-header.jpg", .jpeg)] {
            XCTAssertThrowsError(try decoder.decode(Self.fixture(name)), name) { error in
                guard case ImageError.corrupt(let f, let message) = error else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual(f, format, name)
                XCTAssertFalse(message.isEmpty, name)
            }
        }
        // Every prefix of a valid file is refused, none crashes.
        for name in ["fmnist-3.png", "fmnist-3.jpg", "variant-progressive.jpg", "variant-interlaced.png"] {
            let data = try Self.fixture(name)
            for cut in stride(from: 0, to: data.count - 1, by: 7) {
                XCTAssertThrowsError(try decoder.decode(data.prefix(cut)), "\(name) cut at \(cut)")
            }
        }
    }

    func testDecompressionBombsAreRefusedBeforeAllocating() throws {
        let png = try Self.fixture("bomb-100000x100000.png")
        XCTAssertLessThan(png.count, 100)
        let start = ContinuousClock.now
        XCTAssertThrowsError(try decoder.decode(png)) {
            XCTAssertEqual($0 as? ImageError, .tooLarge(width: 100000, height: 100000, maxPixels: 4096 * 4096))
        }
        XCTAssertThrowsError(try decoder.decode(Self.fixture("bomb-60000x60000.jpg"))) {
            XCTAssertEqual($0 as? ImageError, .tooLarge(width: 60000, height: 60000, maxPixels: 4096 * 4096))
        }
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(200))
        // The limit is configurable; a 28x28 image is over a 700-pixel limit.
        XCTAssertThrowsError(try ImageDecoder(maxPixels: 700).decode(Self.fixture("fmnist-0.png"))) {
            XCTAssertEqual($0 as? ImageError, .tooLarge(width: 28, height: 28, maxPixels: 700))
        }
        let info = try decoder.info(png)
        XCTAssertEqual(info.width, 100000)
        XCTAssertEqual(info.format, .png)
    }

    func testPixelArraysFromClients() throws {
        let image = try Image(width: 2, height: 1, channels: 1, values: [0, 255])
        XCTAssertEqual(image.pixels, [0, 255])
        XCTAssertThrowsError(try Image(width: 2, height: 1, channels: 1, values: [0, 256]))
        XCTAssertThrowsError(try Image(width: 2, height: 1, channels: 1, values: [0.5, 1]))
        XCTAssertThrowsError(try Image(width: 2, height: 2, channels: 1, values: [0, 1]))
        XCTAssertThrowsError(try Image(width: 1, height: 1, channels: 2, values: [0, 1]))
    }
}
