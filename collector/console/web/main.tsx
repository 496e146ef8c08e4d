// SPDX-License-Identifier: Apache-2.0
/** The web console's entry: mounts the app on #app (the page collector/console/static.ts serves). */
import { render } from "preact";

function App() {
  return (
    <main>
      <h1>Vigil</h1>
    </main>
  );
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
