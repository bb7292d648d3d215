import DLVision
import XCTest

final class BoxPainterTests: XCTestCase {
    func testPNGEncodingRoundTripsGrayAndRGB() throws {
        var rng = SystemRandomNumberGenerator()
        for channels in [1, 3] {
            let (w, h) = (37, 21)
            let image = Image(width: w, height: h, channels: channels, pixels: (0..<(w * h * channels)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            for level in [0, 6, 9] {
                let png = try ImageEncoder.png(image, level: level)
                XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                XCTAssertEqual(try ImageDecoder().decode(png), image, "channels \(channels), level \(level)")
            }
        }
        // A flat image compresses: far fewer bytes than pixels.
        let flat = Image(width: 200, height: 200, channels: 3, pixels: [UInt8](repeating: 90, count: 120_000))
        XCTAssertLessThan(try ImageEncoder.png(flat).count, 2_000)
    }

    func testBoxesAreOutlinedInTheirClassColourAndLabelled() throws {
        let gray = Image(width: 60, height: 50, channels: 1, pixels: [UInt8](repeating: 128, count: 3000))
        let d = Detection(box: Box(x1: 10, y1: 20, x2: 40, y2: 45), label: 1, score: 0.876)
        let out = BoxPainter(lineWidth: 2, textScale: 1).draw([d], on: gray, names: ["cat", "dog"])
        XCTAssertEqual(out.channels, 3)
        XCTAssertEqual([out.width, out.height], [60, 50])
        let c = BoxPainter.color(of: 1)
        func px(_ x: Int, _ y: Int) -> [UInt8] { (0..<3).map { out[y, x, $0] } }
        // Outline: 2 pixels wide on every side, pixels [x1, x2 - 1] x [y1, y2 - 1].
        for (x, y) in [(10, 30), (11, 30), (39, 30), (38, 30), (25, 44), (25, 43), (25, 20), (25, 21)] {
            XCTAssertEqual(px(x, y), [c.0, c.1, c.2], "(\(x), \(y))")
        }
        // Inside and outside the outline the image is unchanged (gray 128 as RGB).
        for (x, y) in [(12, 30), (37, 30), (25, 42), (9, 30), (40, 30), (25, 46)] { XCTAssertEqual(px(x, y), [128, 128, 128], "(\(x), \(y))") }
        // The tag sits above the box (9 pixels high), in the class colour, with ink in it.
        let tag = (11...19).flatMap { y in (10...60).compactMap { x in x < 60 ? px(x, y) : nil } }
        XCTAssertTrue(tag.contains([c.0, c.1, c.2]))
        XCTAssertTrue(tag.contains([255, 255, 255]) || tag.contains([0, 0, 0]))
        // "dog 88%": 7 glyphs of 6 pixels + 1 = 43 pixels wide from x1 = 10, rows 11...19.
        XCTAssertEqual(px(52, 11), [c.0, c.1, c.2])
        XCTAssertEqual(px(53, 11), [128, 128, 128])
        XCTAssertEqual(px(30, 10), [128, 128, 128])
    }

    func testBoxesOutsideTheImageAreClippedNotTrapped() {
        let image = Image(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 0, count: 192))
        let ds = [Detection(box: Box(x1: -20, y1: -5, x2: 100, y2: 4), label: 12, score: 0.5),
                  Detection(box: Box(x1: 30, y1: 30, x2: 40, y2: 40), label: 0, score: 0.9),
                  Detection(box: Box(x1: 3, y1: 3, x2: 3, y2: 3), label: -1, score: 0.1)]
        let out = BoxPainter().draw(ds, on: image, names: [])
        XCTAssertEqual(out.pixels.count, 192)
        let c = BoxPainter.color(of: 12)
        XCTAssertEqual((0..<3).map { out[3, 4, $0] }, [c.0, c.1, c.2])
    }
}
