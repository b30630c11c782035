/**
 * The focas driver's static description: what the registry (drivers/registry.ts) and the config parser know of
 * it. Pure data: no I/O and no import of driver code.
 */
import type { DriverDescription } from "../types.ts";

/**
 * Text encodings accepted for alarm messages: WHATWG labels TextDecoder knows (mod.ts checks each at init, and
 * a unit test checks the list). `latin1` is the WHATWG label, decoded as windows-1252.
 */
export const ENCODINGS = [
  "latin1",
  "shift_jis",
  "utf-8",
  "euc-jp",
  "iso-2022-jp",
  "gbk",
  "gb18030",
  "big5",
  "euc-kr",
  "windows-1250",
  "windows-1251",
  "windows-1252",
  "windows-1253",
  "windows-1254",
  "windows-1255",
  "windows-1256",
  "windows-1257",
  "windows-1258",
  "iso-8859-2",
  "iso-8859-3",
  "iso-8859-4",
  "iso-8859-5",
  "iso-8859-6",
  "iso-8859-7",
  "iso-8859-8",
  "iso-8859-10",
  "iso-8859-13",
  "iso-8859-14",
  "iso-8859-15",
  "iso-8859-16",
  "koi8-r",
  "koi8-u",
  "ibm866",
  "macintosh",
  "windows-874",
] as const;

/** Name, option schema and sample options of `driver = "focas"`. */
export const FOCAS: DriverDescription = {
  name: "focas",
  summary: "FANUC CNC controls (0i, 16i/18i/21i, 30i/31i/32i) over Ethernet through FANUC's FOCAS2 library",
  network: true,
  defaultPort: 8193,
  libraryOption: "library",
  options: {
    library: {
      type: "path",
      required: true,
      description: "FANUC's FOCAS2 library: libfwlib32.so (Linux) or Fwlib64.dll (Windows x64)",
    },
    encoding: {
      type: "enum",
      values: ENCODINGS,
      default: "latin1",
      description: "text encoding of alarm messages (shift_jis for Japanese controls)",
    },
    startup_log_level: {
      type: "integer",
      min: 0,
      max: 3,
      default: 0,
      description:
        "log level given to cnc_startupprocess (Linux library; its log is <data_dir>/machines/<id>/focas.log)",
    },
  },
  sampleOptions: { library: "/opt/fanuc/libfwlib32.so", encoding: "latin1" },
};
