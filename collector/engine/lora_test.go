package engine

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// loraPage is a lora_requests_info family as vLLM prints it (no model or
// engine label; labels in name order; the value the Unix time of the last
// update that saw the combination).
func loraPage(series ...string) string {
	var b strings.Builder
	b.WriteString("# HELP vllm:lora_requests_info Running stats on lora requests.\n# TYPE vllm:lora_requests_info gauge\n")
	for _, s := range series {
		b.WriteString(s + "\n")
	}
	return b.String()
}

func loraSeries(max, running, waiting string, at float64) string {
	return fmt.Sprintf(`vllm:lora_requests_info{max_lora=%q,running_lora_adapters=%q,waiting_lora_adapters=%q} %v`, max, running, waiting, at)
}

// adapters lists a page's llm_engine_lora_adapters as "state/adapter".
func adapters(out []outSeries) []string {
	var l []string
	for _, o := range matching(out, "lora_adapters", nil) {
		n := namedLabels(o)
		if o.value != 1 {
			l = append(l, fmt.Sprintf("%s/%s=%v", n["state"], n["adapter"], o.value))
			continue
		}
		l = append(l, n["state"]+"/"+n["adapter"])
	}
	sort.Strings(l)
	return l
}

func maxAdapters(t *testing.T, out []outSeries) []float64 {
	t.Helper()
	var v []float64
	for _, o := range matching(out, "lora_max_adapters", nil) {
		v = append(v, o.value)
	}
	return v
}

func TestLoRASplit(t *testing.T) {
	for _, c := range []struct {
		name     string
		page     string
		adapters []string
		max      []float64
		dropped  int
	}{
		{
			name: "the most recent combination",
			page: loraPage(
				loraSeries("4", "", "", 1.78999459963e+09),
				loraSeries("4", "sql-lora-1", "sql-lora-2", 1.78999975963e+09),
				loraSeries("4", "sql-lora-1,sql-lora-2", "tweet-summary-1", 1.78999999963e+09),
				loraSeries("4", "sql-lora-2,sql-lora-1", "", 1.78999996963e+09),
			),
			adapters: []string{"running/sql-lora-1", "running/sql-lora-2", "waiting/tweet-summary-1"},
			max:      []float64{4},
		},
		{
			name:     "empty lists: no adapter, max_lora still",
			page:     loraPage(loraSeries("8", "a", "", 100), loraSeries("8", "", "", 200)),
			adapters: nil,
			max:      []float64{8},
		},
		{
			name:     "an adapter listed twice, and in both states",
			page:     loraPage(loraSeries("2", "a,a,b", "b", 1)),
			adapters: []string{"running/a", "running/b", "waiting/b"},
			max:      []float64{2},
		},
		{
			name:     "blanks around the names, empty names",
			page:     loraPage(loraSeries("2", " a , ,b,", "", 1)),
			adapters: []string{"running/a", "running/b"},
			max:      []float64{2},
		},
		{
			name:     "NaN is never the most recent",
			page:     loraPage(loraSeries("2", "old", "", 5), `vllm:lora_requests_info{max_lora="3",running_lora_adapters="x",waiting_lora_adapters=""} NaN`),
			adapters: []string{"running/old"},
			max:      []float64{2},
		},
		{
			name:     "equal values: the first printed",
			page:     loraPage(loraSeries("2", "first", "", 7), loraSeries("2", "second", "", 7)),
			adapters: []string{"running/first"},
			max:      []float64{2},
		},
		{
			name:     "a max_lora that is not a number",
			page:     loraPage(loraSeries("four", "a", "", 1)),
			adapters: []string{"running/a"},
			max:      nil,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			join := JoinLabels{Namespace: "ns", Pod: "pod", Container: "c", DPRank: "1"}
			s := runPage([]byte(c.page), formatText, join, Limits{}, nil)
			if s.err != nil {
				t.Fatal(s.err)
			}
			checkInvariants(t, s.out)
			if got := adapters(s.out); strings.Join(got, " ") != strings.Join(c.adapters, " ") {
				t.Errorf("adapters %v, want %v", got, c.adapters)
			}
			if got := maxAdapters(t, s.out); fmt.Sprint(got) != fmt.Sprint(c.max) {
				t.Errorf("max %v, want %v", got, c.max)
			}
			for _, o := range s.out {
				if l := namedLabels(o); l["dp_rank"] != "1" || l["engine"] != "vllm" || l["tp_rank"] != "" {
					t.Errorf("labels %v: want the target's dp_rank 1, engine vllm, tp_rank empty", l)
				}
			}
			if s.n.loraDropped != c.dropped {
				t.Errorf("%d dropped, want %d", s.n.loraDropped, c.dropped)
			}
		})
	}
}

// The adapters of a page follow it from scrape to scrape.
func TestLoRAAdaptersFollowThePage(t *testing.T) {
	first := runPage([]byte(loraPage(loraSeries("4", "a,b", "c", 10))), formatText, JoinLabels{}, Limits{}, nil)
	if got := adapters(first.out); strings.Join(got, " ") != "running/a running/b waiting/c" {
		t.Fatalf("first page: %v", got)
	}
	// b finished, c runs: a newer combination joins the older one on the page.
	second := runPage([]byte(loraPage(loraSeries("4", "a,b", "c", 10), loraSeries("4", "c,a", "", 20))), formatText, JoinLabels{}, Limits{}, first)
	if got := adapters(second.out); strings.Join(got, " ") != "running/a running/c" {
		t.Errorf("second page: %v", got)
	}
}

// A hostile page cannot explode the series: past the limit, adapters are
// dropped and counted, running ones kept first, each state by name.
func TestLoRAAdapterLimit(t *testing.T) {
	var running, waiting []string
	for i := 0; i < 300; i++ {
		running = append(running, fmt.Sprintf("r%03d", i))
		waiting = append(waiting, fmt.Sprintf("w%03d", i))
	}
	page := loraPage(loraSeries("4", strings.Join(running, ","), strings.Join(waiting, ","), 1))
	s := runPage([]byte(page), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	got := adapters(s.out)
	if len(got) != DefaultLoRAAdapterLimit || s.n.loraDropped != 600-DefaultLoRAAdapterLimit {
		t.Fatalf("%d adapters kept, %d dropped; want %d and %d", len(got), s.n.loraDropped, DefaultLoRAAdapterLimit, 600-DefaultLoRAAdapterLimit)
	}
	if got[0] != "running/r000" || got[len(got)-1] != fmt.Sprintf("running/r%03d", DefaultLoRAAdapterLimit-1) {
		t.Errorf("kept %s ... %s, want the first running adapters by name", got[0], got[len(got)-1])
	}

	// One adapter listed many times is one series, not many over the limit.
	same := loraPage(loraSeries("4", strings.Repeat("sql-lora-1,", 400), "", 1))
	s = runPage([]byte(same), formatText, JoinLabels{}, Limits{}, nil)
	if got := adapters(s.out); len(got) != 1 || s.n.loraDropped != 0 {
		t.Errorf("one adapter 400 times: %v kept, %d dropped", got, s.n.loraDropped)
	}

	// Through the collector, with a limit of 3 set: 2 of 5 dropped, counted.
	small := loraPage(loraSeries("4", "e,d,c", "b,a", 1))
	url := serve(t, textPage([]byte(small)))
	c := newCollector(t, Config{Targets: []Target{{URL: url, Labels: JoinLabels{Pod: "p"}}}, LoRAAdapterLimit: 3})
	for scrape := 1; scrape <= 2; scrape++ {
		mfs := gather(t, c)
		var kept []string
		for _, s := range samples(mfs, "llm_engine_lora_adapters") {
			kept = append(kept, s.labels["state"]+"/"+s.labels["adapter"])
		}
		sort.Strings(kept)
		if strings.Join(kept, " ") != "running/c running/d running/e" {
			t.Errorf("scrape %d: kept %v, want the running ones", scrape, kept)
		}
		if d := one(t, mfs, "llm_engine_series_dropped_total", map[string]string{"reason": dropLoRA}); d.value != float64(2*scrape) {
			t.Errorf("scrape %d: dropped %v, want %d", scrape, d.value, 2*scrape)
		}
	}
}

func TestLoRAAdapterLimitFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
		ok   bool
	}{
		{nil, DefaultLoRAAdapterLimit, true},
		{[]string{"--engine.lora-adapter-limit=16"}, 16, true},
		{[]string{"--engine.lora-adapter-limit=0"}, 0, false},
		{[]string{"--engine.lora-adapter-limit=-1"}, 0, false},
	} {
		app := kingpin.New("test", "")
		f := AddFlags(app)
		if _, err := app.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.Config()
		switch {
		case c.ok && (err != nil || cfg.LoRAAdapterLimit != c.want):
			t.Errorf("%v: limit %d, %v; want %d", c.args, cfg.LoRAAdapterLimit, err, c.want)
		case !c.ok && err == nil:
			t.Errorf("%v accepted", c.args)
		}
	}
}
