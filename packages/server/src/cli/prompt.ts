import { createInterface } from "node:readline";
import { readFile } from "node:fs/promises";

/** Reads a secret: from a file when given, else from the terminal without echo, else one line of stdin. */
export async function readSecret(question: string, file?: string): Promise<string> {
  if (file !== undefined) return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
  const input = process.stdin;
  if (!input.isTTY) {
    const rl = createInterface({ input });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return "";
  }
  process.stderr.write(question);
  return new Promise((resolve) => {
    const rl = createInterface({ input, output: process.stderr, terminal: true });
    // Mute the echo of what is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}
