// Drives the gateway's page in headless Chromium: submit a prompt, follow its progress to
// 100 %, wait for the 3D viewer, read back its pixels, hover an object, take a screenshot.
//
//   node web_page.mjs BASE_URL PROMPT SCREENSHOT.png [CHROMIUM] [API_KEY]
//
// With API_KEY, the page is first seen refusing to list scenes, then given the key.
// Prints one JSON line of what it saw; exits 1 (with the reason on stderr) on a failure.
import { chromium } from "playwright-core";

const [base, prompt, screenshot, executable = "/usr/bin/chromium", apiKey = ""] = process.argv.slice(2);
if (!base || !prompt || !screenshot) {
  console.error("usage: node web_page.mjs BASE_URL PROMPT SCREENSHOT.png [CHROMIUM]");
  process.exit(2);
}
const WAIT_MS = 90_000;

const browser = await chromium.launch({
  executablePath: executable,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const outside = [];
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("blob:") && !request.url().startsWith("data:")) {
      outside.push(request.url());
    }
  });

  await page.goto(base + "/", { waitUntil: "load" });
  let refusedWithoutKey = null;
  if (apiKey) {
    await page.waitForSelector("#list-error:not([hidden])", { timeout: WAIT_MS });
    refusedWithoutKey = (await page.textContent("#list-error")).trim();
    problems.length = 0; // the 401s just seen were the point
    await page.fill("#api-key", apiKey);
    await page.dispatchEvent("#api-key", "change");
    await page.waitForSelector("#list-error[hidden]", { state: "attached", timeout: WAIT_MS });
  }
  await page.fill("#prompt", prompt);
  await page.fill("#seed", "7");
  await page.click("#submit");

  const seen = new Set();
  await page.waitForFunction(() => document.querySelector("#scene-id")?.textContent, null, { timeout: WAIT_MS });
  const sceneId = await page.textContent("#scene-id");
  // Every distinct percentage the bar showed, until 100 % or a terminal status.
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const text = (await page.textContent("#progress-text")).trim();
    seen.add(text);
    const status = (await page.textContent("#scene-status")).trim();
    if (text === "100 %" || status === "FAILED" || status === "CANCELLED") break;
    if (Date.now() > deadline) throw new Error(`progress stopped at ${text} (${status})`);
    await page.waitForTimeout(20);
  }
  const status = (await page.textContent("#scene-status")).trim();
  if (status !== "SUCCEEDED") {
    throw new Error(`scene ended ${status}: ${await page.textContent("#scene-error")}`);
  }
  await page.waitForSelector("#viewer[data-loaded=true]", { timeout: WAIT_MS });
  await page.waitForSelector("#floorplan:not([hidden])", { timeout: WAIT_MS });
  await page.waitForFunction(() => document.querySelector("#floorplan").naturalWidth > 0, null, { timeout: WAIT_MS });

  // The viewer's pixels: how many differ from its background colour, and how many colours.
  const pixels = await page.evaluate(() => {
    const canvas = document.querySelector("#viewer canvas");
    const copy = document.createElement("canvas");
    copy.width = canvas.width;
    copy.height = canvas.height;
    const ctx = copy.getContext("2d");
    ctx.drawImage(canvas, 0, 0);
    const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
    const background = [0xe9, 0xed, 0xf2];
    let drawn = 0;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const d = Math.abs(data[i] - background[0]) + Math.abs(data[i + 1] - background[1]) + Math.abs(data[i + 2] - background[2]);
      if (d > 12) drawn += 1;
      colours.add((data[i] >> 3) << 10 | (data[i + 1] >> 3) << 5 | (data[i + 2] >> 3));
    }
    return { width: copy.width, height: copy.height, drawn, total: data.length / 4, colours: colours.size };
  });

  // Point at the middle of the viewer and around it until an object's name shows.
  const box = await page.locator("#viewer canvas").boundingBox();
  // Point across the viewer until an object's name shows.
  let hovered = null;
  let hoveredAt = null;
  search: for (let fy = 0.3; fy <= 0.8; fy += 0.1) {
    for (let fx = 0.2; fx <= 0.8; fx += 0.1) {
      await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
      if (await page.isVisible("#tooltip")) {
        hovered = (await page.textContent("#tooltip")).trim();
        hoveredAt = [fx, fy];
        break search;
      }
    }
  }
  // Orbit a little, as a user would, then zoom.
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.52, { steps: 5 });
  await page.mouse.up();
  await page.mouse.wheel(0, -100);
  await page.waitForTimeout(300);
  await page.mouse.wheel(0, 100);
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.48, { steps: 5 });
  await page.mouse.up();
  await page.waitForTimeout(300);
  if (hoveredAt) {
    // Back over the object, for the screenshot to show its name.
    await page.mouse.move(box.x + box.width * hoveredAt[0], box.y + box.height * hoveredAt[1]);
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: screenshot, fullPage: true });

  const downloads = await page.$$eval("#downloads button", (buttons) => buttons.map((b) => b.textContent));
  const objects = await page.$$eval("#objects tbody tr", (rows) => rows.length);
  const listed = await page.$$eval("#scene-list li", (items) => items.map((li) => li.dataset.scene));
  const docs = await browser.newPage();
  docs.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("data:")) outside.push(request.url());
  });
  await docs.goto(base + "/docs", { waitUntil: "load" });
  await docs.waitForSelector(".swagger-ui .opblock", { timeout: WAIT_MS });
  const operations = await docs.$$eval(".swagger-ui .opblock", (blocks) => blocks.length);

  console.log(JSON.stringify({
    sceneId, status, progressSeen: [...seen], pixels, hovered, downloads, objects, listed, refusedWithoutKey,
    docsOperations: operations, outside, problems,
  }));
} catch (error) {
  const page = browser.contexts()[0]?.pages()[0];
  const note = page ? await page.textContent("#viewer-note").catch(() => "") : "";
  if (page) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  console.error(`${error.message}\nviewer: ${note}\nproblems: ${JSON.stringify(problems)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
