// The fuzzers' command line: --seconds S (default 30), --seed N (default: a fresh one, printed for replay),
// and any other --name value.
const argv = process.argv.slice(2);

/** The value after --name, if given. */
export const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
export const seconds = Number(arg("seconds") ?? 30);
export const seed = Number(arg("seed") ?? Math.floor(Math.random() * 2 ** 31));
