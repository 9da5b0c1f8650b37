// The web page at / in Debian's Chromium, headless (playwright-core drives it): upload a video,
// classify it, read the bar chart; pick a built-in label list; search the index. Prints what the
// page showed, as JSON, and saves a screenshot.
import { chromium } from "playwright-core";

const [url, video, screenshot, userDataDir] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = context.pages()[0] || (await context.newPage());
  const outside = [];
  page.on("request", (request) => { if (!request.url().startsWith(url) && !request.url().startsWith("blob:")) outside.push(request.url()); });
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("model").textContent.includes("frames"));
  const readBars = () => page.$$eval("#bars li", (items) => items.map((li) => ({
    label: li.querySelector(".label").textContent,
    percent: li.querySelector(".p").textContent,
    width: li.querySelector(".bar").style.width,
  })));

  await page.setInputFiles("#file", video);
  await page.fill("#labels", "surfing, cooking, juggling");
  await page.fill("#top-k", "3");
  await page.click("#run");
  await page.waitForSelector("#bars li");
  const typed = await readBars();
  const videoShown = await page.$eval("#preview", (v) => !v.hidden && v.src.startsWith("blob:"));
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.selectOption("#label-set", "ucf101");
  await page.fill("#top-k", "5");
  await page.click("#run");
  await page.waitForFunction(() => document.querySelectorAll("#bars li").length === 5);
  const ucf = await readBars();

  await page.fill("#query", "a person surfing");
  await page.click("#search-form button");
  await page.waitForSelector("#hits li");
  const hits = await page.$$eval("#hits li", (items) => items.map((li) => li.textContent));
  console.log(JSON.stringify({ typed, ucf, hits, videoShown, outside, status: await page.textContent("#status") }));
} finally {
  await context.close();
}
