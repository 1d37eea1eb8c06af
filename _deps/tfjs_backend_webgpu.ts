/**
 * TensorFlow.js's WebGPU backend, pinned (imported for its registration).
 *
 * @module
 */
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
