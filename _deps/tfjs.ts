/**
 * TensorFlow.js, pinned: the one place its npm specifier is written, so that
 * a project importing this package by path or URL needs no import map.
 *
 * @module
 */
export * from "npm:@tensorflow/tfjs@4.22.0";
