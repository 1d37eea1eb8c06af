/**
 * Built-in synthetic identities: procedurally rendered, face-like RGB images,
 * deterministic from a seed, with no files to download.
 *
 * Each identity ({@link FaceIdentity}) is a fixed random draw of facial
 * geometry and appearance: face outline and jaw, eye / brow / nose / mouth
 * placement and size, skin, eye and hair colour, hair style, and accessories
 * (glasses, beard, moustache, a mole). Each image ({@link renderFace}) shows
 * the identity under random nuisances: shift, rotation, scale, a slight head
 * turn, lighting direction and strength, brightness, contrast and colour
 * cast, expression (smile, open mouth, eye openness, gaze, raised brows),
 * background and clothing colour, sensor noise and, sometimes, a partial
 * occlusion. The nuisances are strong enough that comparing raw pixels is a
 * poor face verifier (about 0.6–0.7 pair accuracy on the LFW protocol, see
 * tests/synthetic_test.ts), while the identity cues stay visible to a
 * learned embedding.
 *
 * Images are addressed by references `syn:<split>:<identity>:<image>`, so any
 * image can be rendered from its reference and the dataset seed alone
 * ({@link renderSyntheticRef}). Training and validation identities are
 * disjoint: identity `i` of the training split is identity stream `2 i`,
 * identity `i` of the validation split is stream `2 i + 1`.
 *
 * Randomness comes only from core/pure/rng.ts: the seed's root stream is
 * split into an identity root, an image root and a pairs root; the stream of
 * identity `k` is keyed by words `2k, 2k + 1` of the identity root, the stream
 * of image `j` of identity `k` by words `2j, 2j + 1` of the stream keyed by
 * words `2k, 2k + 1` of the image root.
 *
 * @module
 */

export { type FaceIdentity, type HairStyle, type Rgb, syntheticIdentity } from "./identity.ts";
export { renderFace, type RenderOptions, renderSyntheticRef } from "./render.ts";
export {
  parseSyntheticRef,
  syntheticDataset,
  type SyntheticDatasetOptions,
  syntheticRef,
  type SyntheticSplit,
} from "./dataset.ts";
export {
  type SyntheticPair,
  type SyntheticPairs,
  syntheticPairs,
  type SyntheticPairsOptions,
} from "./pairs.ts";
