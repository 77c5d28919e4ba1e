// Command toxi puts a toxiproxy (the pinned library in go.mod) with a
// bandwidth toxic between a client and a server on loopback, and reads the
// proxy's byte counters, for scripts such as scripts/acceptance-send.sh.
//
//	toxi serve -upstream 127.0.0.1:9000 -rate 20000 -env toxi.env &
//	toxi serve -upstream 127.0.0.1:9000 -rate 0 -latency 30 -env toxi.env &
//	toxi bytes -api http://127.0.0.1:PORT
//
// serve starts the proxy on a free 127.0.0.1 port with toxiproxy's
// bandwidth toxic of -rate KB/s (1 KB = 1000 bytes, as toxiproxy counts)
// on -stream ("upstream": client to server), and toxiproxy's HTTP API with
// its proxy byte metrics on another. The toxic paces each connection on
// its own: N connections at once share N × rate, so to cap a link give
// the link's rate divided by the client's connections. It writes LISTEN=host:port and API=URL to the
// -env file (atomically) or stdout, and runs until SIGINT or SIGTERM, or
// until its parent process exits.
//
// bytes prints "received sent" of one -direction: for "upstream" (the
// default; what an upload sends) the bytes the proxy has taken from
// clients and delivered to the server; for "downstream" (what a download
// receives) the bytes it has taken from the server and delivered to
// clients, HTTP headers included both ways. Toxiproxy adds a connection's
// bytes to these counters when the connection ends, so read them once the
// client has exited and the counts stand still. A "sent" count is added
// only when the delivery ended without a write error: the bytes of a
// connection whose client was killed appear under "received" only.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("toxi: ")
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "bytes":
		bytesCmd(os.Args[2:])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: toxi serve -upstream HOST:PORT [-rate KB/s] [-stream upstream|downstream] [-env FILE]\n       toxi bytes -api URL [-direction upstream|downstream]")
	os.Exit(2)
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	upstream := fs.String("upstream", "", "server address, host:port")
	rate := fs.Int64("rate", 20000, "bandwidth of each connection in KB/s (1 KB = 1000 bytes); 0 for no toxic")
	stream := fs.String("stream", "upstream", "direction the toxic slows: upstream (client to server) or downstream")
	latency := fs.Int64("latency", 0, "milliseconds added to the data of each request's answer (downstream), as a distant server's round trip; 0 for none")
	envFile := fs.String("env", "", "write LISTEN= and API= lines here instead of stdout")
	fs.Parse(args)
	if *upstream == "" {
		usage()
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	api := toxiproxy.NewServer(metrics, zerolog.Nop())
	p := toxiproxy.NewProxy(api, "s3", "127.0.0.1:0", *upstream)
	if err := api.Collection.Add(p, true); err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	if *rate > 0 {
		toxic := fmt.Sprintf(`{"type":"bandwidth","stream":%q,"attributes":{"rate":%d}}`, *stream, *rate)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			log.Fatal(err)
		}
	}
	if *latency > 0 {
		toxic := fmt.Sprintf(`{"type":"latency","stream":"downstream","attributes":{"latency":%d}}`, *latency)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			log.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: api.Routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	defer hs.Close()

	lines := fmt.Sprintf("LISTEN=%s\nAPI=http://%s\n", p.Listen, ln.Addr())
	if *envFile == "" {
		fmt.Print(lines)
	} else {
		tmp := *envFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(lines), 0o600); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *envFile); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("proxy %s -> %s, bandwidth toxic %d KB/s a connection on %s (pid %d)", p.Listen, *upstream, *rate, *stream, os.Getpid())

	parent := os.Getppid()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-stop:
			log.Printf("%s: stopping", sig)
			return
		case <-tick.C:
			if os.Getppid() != parent {
				log.Print("parent exited: stopping")
				return
			}
		}
	}
}

// bytesCmd prints the proxy's received and sent byte counters of one
// direction, summed over its proxies.
func bytesCmd(args []string) {
	fs := flag.NewFlagSet("bytes", flag.ExitOnError)
	apiURL := fs.String("api", "", "toxiproxy API URL, as serve printed it")
	direction := fs.String("direction", "upstream", "upstream or downstream")
	fs.Parse(args)
	if *apiURL == "" {
		usage()
	}
	resp, err := http.Get(strings.TrimSuffix(*apiURL, "/") + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("GET /metrics: %s", resp.Status)
	}
	var received, sent float64
	label := `direction="` + *direction + `"`
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.Contains(line, label) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			log.Fatalf("metrics line %q: %v", line, err)
		}
		switch {
		case strings.HasPrefix(line, "toxiproxy_proxy_received_bytes_total{"):
			received += v
		case strings.HasPrefix(line, "toxiproxy_proxy_sent_bytes_total{"):
			sent += v
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f %.0f\n", received, sent)
}
