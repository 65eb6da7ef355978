// The demo checked in a real browser (headless Chromium through chromedp): its own module so that
// the browser driver never enters the exporter's go.mod.
module github.com/llm-node-exporter/llm-node-exporter/browser

go 1.26.8

require github.com/chromedp/chromedp v0.23.1

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)
