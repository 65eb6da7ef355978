// Command bench-engine-pages serves an engine page on several loopback
// listeners for scripts/bench-engine.sh. With -changing, every answer
// differs from the previous one on every sample (each value alternately as
// printed and one more), the worst case for a collector that reuses what
// did not change; real engines are in between.
package main

import (
	"bytes"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// bumped returns the page with one added to every sample value: counters and
// buckets stay counters and cumulative buckets.
func bumped(page []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(page), "\n") {
		body := strings.TrimSuffix(line, "\n")
		if body == "" || strings.HasPrefix(body, "#") {
			out.WriteString(line)
			continue
		}
		i := strings.LastIndexByte(body, ' ')
		v, err := strconv.ParseFloat(body[i+1:], 64)
		if err != nil {
			log.Fatalf("bench-engine-pages: %q: %v", body, err)
		}
		out.WriteString(body[:i+1] + strconv.FormatFloat(v+1, 'g', -1, 64) + line[len(body):])
	}
	return out.Bytes()
}

func main() {
	pagePath := flag.String("page", "", "the page to serve")
	listen := flag.String("listen", "", "comma-separated host:port list, one listener each")
	changing := flag.Bool("changing", false, "change every value on every answer")
	flag.Parse()
	page, err := os.ReadFile(*pagePath)
	if err != nil {
		log.Fatalf("bench-engine-pages: %v", err)
	}
	versions := [][]byte{page, page}
	if *changing {
		versions[1] = bumped(page)
	}
	for _, addr := range strings.Split(*listen, ",") {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatalf("bench-engine-pages: %v", err)
		}
		// Each client connection sees the versions alternate, whoever else asks.
		var answers sync.Map // remote address -> *atomic.Uint64
		go func() {
			log.Fatal(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := answers.LoadOrStore(r.RemoteAddr, new(atomic.Uint64))
				w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
				w.Write(versions[n.(*atomic.Uint64).Add(1)%2])
			})))
		}()
	}
	select {}
}
