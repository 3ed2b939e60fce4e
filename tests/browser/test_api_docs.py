"""``/docs`` in headless Chromium with no way out to the internet: Swagger UI comes from the
package, so the page shows the API's operations instead of a blank page."""

from __future__ import annotations

from playwright.async_api import Browser, Route, expect

from waddlebot.runtime import Runtime


async def test_the_api_docs_work_offline(served: tuple[str, Runtime], browser: Browser) -> None:
    base, _ = served
    context = await browser.new_context()
    elsewhere: list[str] = []

    async def offline(route: Route) -> None:
        if route.request.url.startswith(f"{base}/"):
            await route.continue_()
        else:  # a CDN, a validator, a font: none of it is reachable offline
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", offline)
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = await page.goto(f"{base}/docs")
        assert response is not None and response.status == 200
        events = page.locator(".opblock-summary-path", has_text="/api/v1/events")
        await expect(events.first).to_be_visible()
        assert await page.locator(".opblock").count() > 20  # every endpoint, not just one
        await expect(page.locator(".info .title")).to_contain_text("WaddleBot")
    finally:
        await context.close()
    assert elsewhere == [] and errors == [], (elsewhere, errors)
