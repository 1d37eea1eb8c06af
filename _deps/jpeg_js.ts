/**
 * jpeg-js (JPEG decoding), pinned.
 *
 * @module
 */
export { default } from "npm:jpeg-js@0.4.4";
