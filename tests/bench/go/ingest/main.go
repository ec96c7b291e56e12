// The Go peer of ingest-api for `make bench-ingest`: what a team would write
// instead, a net/http server that validates the JSON event and produces it
// with franz-go (acks=all, idempotent), one record per event, with the same
// two headers as ingest-api.
//
//	go-ingest -listen ADDR -brokers HOST:PORT -topic T -mode MODE
//
// MODE promise: Produce, then wait on the promise (linger 5 ms);
// MODE sync: ProduceSync (franz-go's default linger: none, batches while a
// request is in flight); MODE async: Produce and answer 202 at once (the
// peer of ack mode queued; linger 5 ms, the record is only buffered).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const maxBody = 4 << 20

var reqID, failed atomic.Uint64

func countFailure(_ *kgo.Record, err error) {
	if err != nil {
		failed.Add(1)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address")
	brokers := flag.String("brokers", "127.0.0.1:19092", "Kafka bootstrap")
	topic := flag.String("topic", "bench-ingest", "topic")
	mode := flag.String("mode", "promise", "promise | sync | async")
	flag.Parse()

	opts := []kgo.Opt{
		kgo.SeedBrokers(*brokers),
		kgo.DefaultProduceTopic(*topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(200000),
		kgo.RecordDeliveryTimeout(10 * time.Second),
	}
	switch *mode {
	case "promise", "async":
		opts = append(opts, kgo.ProducerLinger(5*time.Millisecond))
	case "sync":
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "millrace_ingest_producer_queue_messages %d\n"+
			"bench_async_failed_total %d\n",
			cl.BufferedProduceRecords(), failed.Load())
	})
	http.HandleFunc("/v1/events", func(w http.ResponseWriter, r *http.Request) {
		handle(w, r, cl, *mode)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}

func reply(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func handle(w http.ResponseWriter, r *http.Request, cl *kgo.Client, mode string) {
	if r.Method != http.MethodPost {
		reply(w, http.StatusMethodNotAllowed, `{"error":"method"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		reply(w, http.StatusRequestEntityTooLarge, `{"error":"too_large"}`)
		return
	}
	// One event or an array of events, each a JSON object, compacted.
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		reply(w, http.StatusBadRequest, `{"error":"invalid_json"}`)
		return
	}
	var events []json.RawMessage
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &events); err != nil {
			reply(w, http.StatusBadRequest, `{"error":"invalid_json"}`)
			return
		}
	} else {
		events = []json.RawMessage{raw}
	}
	now := time.Now()
	ingest := []byte(strconv.FormatInt(now.UnixMilli(), 10))
	rid := []byte(strconv.FormatUint(reqID.Add(1), 16))
	recs := make([]*kgo.Record, 0, len(events))
	for i, e := range events {
		var buf bytes.Buffer
		if t := bytes.TrimLeft(e, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			reply(w, http.StatusBadRequest,
				fmt.Sprintf(`{"error":"not_an_object","index":%d}`, i))
			return
		}
		if err := json.Compact(&buf, e); err != nil {
			reply(w, http.StatusBadRequest, `{"error":"invalid_json"}`)
			return
		}
		recs = append(recs, &kgo.Record{
			Value:     buf.Bytes(),
			Timestamp: now,
			Headers: []kgo.RecordHeader{
				{Key: "ingest_ms", Value: ingest},
				{Key: "request_id", Value: rid},
			},
		})
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	switch mode {
	case "sync":
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			reply(w, http.StatusServiceUnavailable, `{"error":"kafka"}`)
			return
		}
	case "promise":
		errs := make(chan error, len(recs))
		for _, rec := range recs {
			cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { errs <- err })
		}
		for range recs {
			if err := <-errs; err != nil {
				reply(w, http.StatusServiceUnavailable, `{"error":"kafka"}`)
				return
			}
		}
	case "async":
		// A full buffer or a failed delivery is only counted: the
		// request was already answered (as ack mode queued).
		for _, rec := range recs {
			cl.TryProduce(context.Background(), rec, countFailure)
		}
	}
	reply(w, http.StatusAccepted, fmt.Sprintf(`{"accepted":%d}`, len(recs)))
}
