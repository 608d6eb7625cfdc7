// The symbolic graph of a functional model, in Keras's spirit: input() makes a value, a layer's apply()
// makes a node reading values and the value it produces, model() (src/model/model.ts) takes the graph
// between its inputs and outputs. Pure data (no library code), so that the layers can be described
// where the library is not loaded; shapes are inferred and checked when a model is built.

/** What the graph knows of a layer: its kind (model/ gives the specs their meaning). */
export interface NodeSpec {
  readonly kind: string;
}

let ids = 0;

/** A value of the graph: a model input (`node` null, with its per-example shape) or a node's output. */
export class SymbolicTensor {
  /** Creation order: a node's inputs always have smaller ids than its output, so ids sort topologically. */
  readonly id = ++ids;
  constructor(
    readonly node: GraphNode | null,
    /** The per-example shape of an input (a node's output gets its shape when the model is built). */
    readonly inputShape: readonly number[] | null,
    readonly name: string,
  ) {}
  toString(): string {
    return this.node ? `the output of a ${this.node.spec.kind} layer` : `input ${this.name}`;
  }
}

/** One application of a layer to values. */
export interface GraphNode {
  readonly spec: NodeSpec;
  readonly inputs: readonly SymbolicTensor[];
}

/**
 * input(shape, { name }) -> a model input of per-example shape `shape` (such as [28, 28, 1]): what the
 * first layers are applied to and model() starts from.
 */
export function input(shape: readonly number[], options: { name?: string } = {}): SymbolicTensor {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new RangeError(
      `input: shape expects a per-example shape such as [28, 28, 1] but got ${JSON.stringify(shape)}`,
    );
  }
  const name = options?.name ?? "input";
  if (typeof name !== "string") throw new TypeError(`input: options.name expects a string`);
  return new SymbolicTensor(null, Object.freeze([...shape]), name);
}

/** The node that applies `spec` to `inputs`, and its output. */
export function applyLayer(spec: NodeSpec, inputs: unknown): SymbolicTensor {
  const list = Array.isArray(inputs) ? [...inputs] : [inputs];
  list.forEach((v, i) => {
    if (!(v instanceof SymbolicTensor)) {
      throw new TypeError(
        `${spec.kind}.apply: inputs[${i}] expects a value of the graph (input(…) or a layer's output) but got ${
          v === null ? "null" : typeof v
        }`,
      );
    }
  });
  if (list.length === 0) throw new TypeError(`${spec.kind}.apply: expects at least one input`);
  const node: GraphNode = { spec, inputs: list as SymbolicTensor[] };
  return new SymbolicTensor(node, null, spec.kind);
}

/**
 * A graph as plain data, to be sent where SymbolicTensors cannot go (convwasm/async's workers): its
 * inputs' shapes, its distinct layers' specs (a layer applied at several nodes listed once), its nodes
 * in creation order (values: the inputs, then each node's output) and its outputs.
 */
export interface GraphDescription {
  inputs: number[][];
  specs: NodeSpec[];
  nodes: { layer: number; inputs: number[] }[];
  outputs: number[];
}

/** The description of the graph between `inputs` and `outputs` (values not reached from the inputs: an error). */
export function describeGraph(
  fn: string,
  inputs: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
): GraphDescription {
  const index = new Map<SymbolicTensor, number>(inputs.map((t, i) => [t, i]));
  const found = new Set<SymbolicTensor>();
  const visit = (t: SymbolicTensor, from: string) => {
    if (index.has(t) || found.has(t)) return;
    if (!t.node) throw new RangeError(`${fn}: ${from} depends on ${t}, which is not among the model's inputs`);
    found.add(t);
    t.node.inputs.forEach((v) => visit(v, from));
  };
  outputs.forEach((t, i) => visit(t, `outputs[${i}]`));
  const specs: NodeSpec[] = [];
  const layerOf = new Map<NodeSpec, number>();
  const nodes = [...found]
    .sort((a, b) => a.id - b.id)
    .map((t) => {
      const spec = t.node!.spec;
      if (!layerOf.has(spec)) layerOf.set(spec, specs.push(spec) - 1);
      const node = { layer: layerOf.get(spec)!, inputs: t.node!.inputs.map((v) => index.get(v)!) };
      index.set(t, index.size);
      return node;
    });
  return { inputs: inputs.map((t) => [...t.inputShape!]), specs, nodes, outputs: outputs.map((t) => index.get(t)!) };
}
