// Two people chat through the hub's page in headless Chromium: a teacher and a parent each
// paste a token, join class:s1:c1, and see each other's messages (in Shona, to check the text
// survives). Usage: node chat.mjs <hub base url> <teacher token> <parent token> [screenshot.png]
import { chromium } from "playwright-core";

const [base, teacherToken, parentToken, screenshot] = process.argv.slice(2);
if (!base || !teacherToken || !parentToken) {
  console.error("usage: node chat.mjs <hub base url> <teacher token> <parent token> [screenshot]");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});

async function join(token) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(base + "/");
  await page.fill("#token", token);
  await page.fill("#channel", "class:s1:c1");
  await page.click("#connect");
  await page.waitForSelector("#log >> text=/connected as/", { timeout: 10000 });
  await page.waitForSelector("#log >> text=/up to date/", { timeout: 10000 });
  return page;
}

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

async function sees(page, text) {
  await page.waitForSelector(`#log .msg:has-text(${JSON.stringify(text)})`, { timeout: 10000 });
}

try {
  const teacher = await join(teacherToken);
  const parent = await join(parentToken);
  await say(teacher, "Mhoroi vabereki, musangano neChishanu");
  await sees(parent, "Mhoroi vabereki, musangano neChishanu");
  await sees(teacher, "Mhoroi vabereki, musangano neChishanu");
  await say(parent, "Tatenda mudzidzisi");
  await sees(teacher, "Tatenda mudzidzisi");
  if (screenshot) await parent.screenshot({ path: screenshot, fullPage: true });
  console.log("browser chat: ok");
  await browser.close();
} catch (e) {
  console.error("browser chat failed:", e.message);
  await browser.close();
  process.exit(1);
}
