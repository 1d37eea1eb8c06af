/**
 * fast-png (PNG decoding and encoding), pinned.
 *
 * @module
 */
export * from "npm:fast-png@8.0.0";
