// SPDX-License-Identifier: Apache-2.0
/** Style sheets imported for their side effect: esbuild bundles them into the page's one CSS file. */
declare module "*.css";
