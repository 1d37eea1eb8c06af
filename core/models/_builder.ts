/**
 * A small private helper to write model specs: appends nodes and returns
 * their names. Conv units follow the reference implementation's slim arg_scope: conv without bias,
 * batch norm (decay 0.995, epsilon 0.001, no gamma), relu.
 *
 * @module
 */

import type { NodeSpec, Padding } from "../model_spec.ts";

/** Appends nodes to a list. */
export class GraphBuilder {
  /** The nodes so far, in topological order. */
  readonly nodes: NodeSpec[] = [];

  /** Appends one node; returns its name. */
  add(node: NodeSpec): string {
    this.nodes.push(node);
    return node.name;
  }

  /**
   * Conv (no bias) + batch norm (no gamma, as the reference implementation's `scale=False`) +
   * optional relu, named `<name>`, `<name>/BatchNorm`, `<name>/Relu`.
   */
  convUnit(
    name: string,
    input: string,
    filters: number,
    kernel: number | readonly [number, number],
    options: { stride?: number; padding?: Padding; relu?: boolean } = {},
  ): string {
    this.add({
      op: "conv2d",
      name,
      input,
      filters,
      kernel,
      stride: options.stride ?? 1,
      padding: options.padding ?? "same",
    });
    const bn = this.add({ op: "batchNorm", name: `${name}/BatchNorm`, input: name, scale: false });
    if (options.relu === false) return bn;
    return this.add({ op: "relu", name: `${name}/Relu`, input: bn });
  }
}
