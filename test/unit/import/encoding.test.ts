import { describe, expect, it } from "vitest";
import { decodeCp852, decodeStatementBytes, encodingNamed } from "../../../src/import/encoding.js";
import { parseStatementFile } from "../../../src/import/index.js";

/**
 * Hungarian letters in IBM code page 852, byte by byte (IBM/Microsoft CP852 table, as Python's
 * cp852 codec has it) — written out here rather than derived from the decoder under test.
 */
const CP852_HUNGARIAN: Array<[string, number]> = [
  ["á", 0xa0],
  ["é", 0x82],
  ["í", 0xa1],
  ["ó", 0xa2],
  ["ö", 0x94],
  ["ő", 0x8b],
  ["ú", 0xa3],
  ["ü", 0x81],
  ["ű", 0xfb],
  ["Á", 0xb5],
  ["É", 0x90],
  ["Í", 0xd6],
  ["Ó", 0xe0],
  ["Ö", 0x99],
  ["Ő", 0x8a],
  ["Ú", 0xe9],
  ["Ü", 0x9a],
  ["Ű", 0xeb],
];
const TO_CP852 = new Map(CP852_HUNGARIAN);

function cp852(text: string): Buffer {
  return Buffer.from(
    [...text].map((char) => {
      const byte = char.charCodeAt(0) < 0x80 ? char.charCodeAt(0) : TO_CP852.get(char);
      if (byte === undefined) throw new Error(`no CP852 byte for ${char} in this test's table`);
      return byte;
    }),
  );
}

/** A Hungarian MT940 (an OTP-style statement written for this test). */
const HUNGARIAN_MT940 = [
  ":20:HU2611030001",
  ":25:HU42117730161111101800000000",
  ":28C:00042/001",
  ":60F:C261102HUF100000,",
  ":61:2611031103C25000,NTRFNONREF//B261103001",
  ":86:/NAME/Kőbánya Ügyviteli Kft/REMI/Előleg fűtésszerelés ÁTUTALÁS/",
  ":61:2611031103D5000,NTRFNONREF//B261103002",
  ":86:/NAME/Őrségi Űrhajó Bt/REMI/Díj óra öröm új üdülő ÉS ÍRÓ/",
  ":62F:C261103HUF120000,",
  "-",
].join("\r\n");

describe("CP852", () => {
  it("decodes every Hungarian letter to itself", () => {
    for (const [letter, byte] of CP852_HUNGARIAN) expect(decodeCp852(Uint8Array.of(byte)), letter).toBe(letter);
  });

  it("decodes the box-drawing half as box drawing and leaves ASCII alone", () => {
    expect(decodeCp852(Uint8Array.of(0x41, 0xb0, 0xc4, 0xdb, 0xff))).toBe("A░─█\u00a0");
  });

  it("a Hungarian MT940 in CP852 is detected as such, not read as Latin-1", () => {
    const decoded = decodeStatementBytes(cp852(HUNGARIAN_MT940));
    expect(decoded).toMatchObject({ encoding: "cp852", how: "detected" });
    expect(decoded.text).toBe(HUNGARIAN_MT940);
    const entries = parseStatementFile("mt940", decoded.text).entries;
    expect(entries.map((entry) => entry.counterparty_name)).toEqual(["Kőbánya Ügyviteli Kft", "Őrségi Űrhajó Bt"]);
    expect(entries[1]?.remittance_info).toContain("Díj óra öröm új üdülő ÉS ÍRÓ");
  });
});

describe("choosing the encoding", () => {
  const windows = (encoding: string, text: string) =>
    // Node has no encoder for the Windows code pages: bytes from the decoder's inverse over one byte.
    Buffer.from(
      [...text].map((char) => {
        if (char.charCodeAt(0) < 0x80) return char.charCodeAt(0);
        const decoder = new TextDecoder(encoding);
        for (let byte = 0x80; byte <= 0xff; byte += 1) {
          if (decoder.decode(Uint8Array.of(byte)) === char) return byte;
        }
        throw new Error(`${char} not in ${encoding}`);
      }),
    );

  it.each([
    // ł, ś, ő are not ³, œ, õ
    [
      "windows-1250",
      "Polish, Czech and Hungarian",
      "Przelew za łóżko, Świętokrzyska; Žďár nad Sázavou; Kőbánya előleg",
    ],
    ["windows-1252", "German and French", "Zahlung für Müller, Straße; réglement déjà reçu"],
  ] as const)("%s %s text is detected as such", (encoding, _languages, text) => {
    expect(decodeStatementBytes(windows(encoding, text))).toEqual({ text, encoding, how: "detected" });
  });

  it("UTF-8 with or without a BOM is UTF-8", () => {
    const text = "Kőbánya Űrhajó";
    expect(decodeStatementBytes(Buffer.from(text))).toMatchObject({ text, how: "valid utf-8" });
    expect(decodeStatementBytes(Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), Buffer.from(text)]))).toMatchObject({
      text,
      encoding: "utf-8",
      how: "bom",
    });
  });

  it("a camt file's XML declaration is followed, and --encoding wins over everything", () => {
    const xml = '<?xml version="1.0" encoding="windows-1250"?><Document>Kőbánya</Document>';
    expect(decodeStatementBytes(windows("windows-1250", xml))).toMatchObject({ text: xml, how: "declared" });
    const hungarian = cp852("Kőbánya");
    expect(decodeStatementBytes(hungarian, "cp852")).toEqual({ text: "Kőbánya", encoding: "cp852", how: "option" });
    expect(encodingNamed("IBM852")).toBe("cp852");
    expect(encodingNamed("latin1")).toBe("windows-1252");
    expect(encodingNamed("ebcdic")).toBeUndefined();
  });
});
