/** The agent's version, shown by `--version` and sent as `User-Agent: simco-agent/<version>`. */
export const VERSION = "0.1.0";
