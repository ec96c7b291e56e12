// The Go peer of the uploader for `make bench-uploader`: what a team would
// write instead. A franz-go group consumer hands batches of -records
// records (10,000) of one partition to -workers goroutines (4), each gzips
// its batch (-level, 6) and PUTs it with aws-sdk-go-v2; a partition's
// offsets are committed once its batches before them are stored, in order.
// A partition's open batch is also flushed -flush after its first record
// (the tail of a finite backlog). /metrics counts what the bench polls,
// with the uploader's metric names.
//
// Environment as the uploader's: KAFKA_BROKERS, KAFKA_TOPIC,
// CONSUMER_GROUP, S3_ENDPOINT, S3_BUCKET, S3_PREFIX, HEALTH_PORT, and the
// AWS_* credentials.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"
)

type batch struct {
	partition int32
	first     int64
	recs      []*kgo.Record
	opened    time.Time
}

var consumed, written, objects, objBytes atomic.Uint64

func main() {
	records := flag.Int("records", 10000, "records per object")
	workers := flag.Int("workers", 4, "upload goroutines")
	level := flag.Int("level", 6, "gzip level")
	flush := flag.Duration("flush", time.Second, "flush a batch this long after its first record")
	flag.Parse()

	env := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			log.Fatalf("%s is not set", k)
		}
		return v
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; os.Exit(0) }()
	topic, bucket := env("KAFKA_TOPIC"), env("S3_BUCKET")
	prefix := os.Getenv("S3_PREFIX")
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(env("KAFKA_BROKERS")),
		kgo.ConsumerGroup(env("CONSUMER_GROUP")),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(env("S3_ENDPOINT"))
		o.UsePathStyle = true
	})

	go func() {
		http.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "millrace_uploader_records_consumed_total %d\n"+
				"millrace_uploader_records_written_total %d\n"+
				"millrace_uploader_objects_written_total %d\n"+
				"millrace_uploader_bytes_written_total %d\n",
				consumed.Load(), written.Load(), objects.Load(), objBytes.Load())
		})
		log.Fatal(http.ListenAndServe(env("HEALTH_PORT"), nil))
	}()

	jobs := make(chan *batch, *workers)
	done := make(chan *batch, *workers)
	var wg sync.WaitGroup
	for i := 0; i < *workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				upload(s3c, bucket, prefix, topic, *level, b)
				done <- b
			}
		}()
	}

	// The consumer loop: batches per partition, in-order commits.
	ctx := context.Background()
	open := map[int32]*batch{}
	pending := map[int32][]*batch{} // dispatched, in offset order
	stored := map[*batch]bool{}
	inflight := 0
	dispatch := func(b *batch) {
		pending[b.partition] = append(pending[b.partition], b)
		inflight++
		for {
			select {
			case jobs <- b:
				return
			case d := <-done:
				finish(ctx, cl, topic, d, pending, stored)
				inflight--
			}
		}
	}
	for {
		pollCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fs := cl.PollRecords(pollCtx, 10000)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			consumed.Add(1)
			b := open[r.Partition]
			if b == nil {
				b = &batch{partition: r.Partition, first: r.Offset, opened: time.Now()}
				open[r.Partition] = b
			}
			b.recs = append(b.recs, r)
			if len(b.recs) >= *records {
				delete(open, r.Partition)
				dispatch(b)
			}
		})
		for p, b := range open {
			if time.Since(b.opened) >= *flush {
				delete(open, p)
				dispatch(b)
			}
		}
		for more := true; more; {
			select {
			case d := <-done:
				finish(ctx, cl, topic, d, pending, stored)
				inflight--
			default:
				more = false
			}
		}
	}
}

func upload(s3c *s3.Client, bucket, prefix, topic string, level int, b *batch) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, level)
	for _, r := range b.recs {
		zw.Write(r.Value)
		zw.Write([]byte{'\n'})
	}
	zw.Close()
	t := b.recs[0].Timestamp.UTC()
	key := fmt.Sprintf("%s/%s/dt=%s/hour=%02d/%s-%d-%020d.ndjson.gz", prefix, topic,
		t.Format("2006-01-02"), t.Hour(), topic, b.partition, b.first)
	for delay := 200 * time.Millisecond; ; delay *= 2 {
		_, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(buf.Bytes()), ContentType: aws.String("application/gzip"),
		})
		if err == nil {
			break
		}
		log.Printf("put %s: %v; retrying", key, err)
		time.Sleep(delay)
	}
	objects.Add(1)
	objBytes.Add(uint64(buf.Len()))
	written.Add(uint64(len(b.recs)))
}

// finish marks b stored and commits its partition up to the last batch of
// an unbroken stored prefix.
func finish(ctx context.Context, cl *kgo.Client, topic string, b *batch,
	pending map[int32][]*batch, stored map[*batch]bool) {
	stored[b] = true
	q := pending[b.partition]
	var last *batch
	for len(q) > 0 && stored[q[0]] {
		last = q[0]
		delete(stored, q[0])
		q = q[1:]
	}
	pending[b.partition] = q
	if last == nil {
		return
	}
	end := last.recs[len(last.recs)-1]
	err := cl.CommitRecords(ctx, end)
	if err != nil {
		log.Printf("commit partition %d: %v", b.partition, err)
	}
}
