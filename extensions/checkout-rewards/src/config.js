// Where Beam's backend lives; set at build time (esbuild `define`) from BEAM_APP_URL.
/* global BEAM_APP_URL */
export const APP_URL = typeof BEAM_APP_URL === 'string' ? BEAM_APP_URL : 'https://beam.example.com';
