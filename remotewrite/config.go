package remotewrite

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v2"
)

// Defaults of the queue settings; the flags of the binary start from these.
const (
	DefaultInterval          = 15 * time.Second
	DefaultBufferSamples     = 500000
	DefaultBufferAge         = time.Hour
	DefaultMaxSamplesPerSend = 2000
	// DefaultMaxBytesPerSend bounds a request's protobuf before compression:
	// Alibaba ARMS drops the part of a request over 1 MB, and 2,000 samples
	// with the attribution labels of a GPU node come to about 1 MB.
	DefaultMaxBytesPerSend = 512 << 10
	DefaultFlushTimeout    = 10 * time.Second
	DefaultMinBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultRemoteTimeout   = 30 * time.Second
	DefaultWALMaxBytes     = 64 << 20
)

// Config is what the pusher needs: what to add to every series, how often to
// collect, and where to send.
type Config struct {
	Interval       time.Duration
	ExternalLabels map[string]string // job and instance included
	FlushTimeout   time.Duration
	Endpoints      []Endpoint
	// WALDir, when set, keeps the buffer on disk too (wal.go), bounded by
	// WALMaxBytes (DefaultWALMaxBytes when zero).
	WALDir      string
	WALMaxBytes int64

	clock Clock // the real one when nil; tests set a fake
}

// Endpoint is one remote-write receiver. The YAML of --remote-write.config-file
// is a list of these under remote_write:.
type Endpoint struct {
	URL             string            `yaml:"url"`
	Headers         map[string]string `yaml:"headers,omitempty"`
	BasicAuth       *BasicAuth        `yaml:"basic_auth,omitempty"`
	BearerToken     config.Secret     `yaml:"bearer_token,omitempty"`
	BearerTokenFile string            `yaml:"bearer_token_file,omitempty"`
	TLSConfig       config.TLSConfig  `yaml:"tls_config,omitempty"`
	RemoteTimeout   time.Duration     `yaml:"remote_timeout,omitempty"`
	Queue           Queue             `yaml:"queue_config,omitempty"`
}

// BasicAuth is HTTP basic authentication; ARMS takes the AccessKey ID as the
// username and the AccessKey secret as the password. The password comes from
// exactly one of password, password_file and password_env.
type BasicAuth struct {
	Username     string        `yaml:"username"`
	Password     config.Secret `yaml:"password,omitempty"`
	PasswordFile string        `yaml:"password_file,omitempty"`
	PasswordEnv  string        `yaml:"password_env,omitempty"`
}

// Queue sizes an endpoint's buffer and paces its retries. Zero values take
// the defaults (the binary's flags).
type Queue struct {
	BufferSamples     int           `yaml:"buffer_samples,omitempty"`
	BufferAge         time.Duration `yaml:"buffer_age,omitempty"`
	MaxSamplesPerSend int           `yaml:"max_samples_per_send,omitempty"`
	MaxBytesPerSend   int           `yaml:"max_bytes_per_send,omitempty"`
	MinBackoff        time.Duration `yaml:"min_backoff,omitempty"`
	MaxBackoff        time.Duration `yaml:"max_backoff,omitempty"`
}

// minBytesPerSend is the smallest request bound accepted: below it most
// series with their labels would not fit one to a request.
const minBytesPerSend = 4 << 10

type fileConfig struct {
	RemoteWrite []Endpoint `yaml:"remote_write"`
}

// LoadFile reads a remote-write config file: `remote_write:` and a list of
// endpoints. Unknown fields are errors.
func LoadFile(path string) ([]Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fc fileConfig
	if err := yaml.UnmarshalStrict(b, &fc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(fc.RemoteWrite) == 0 {
		return nil, fmt.Errorf("%s: no endpoint under remote_write", path)
	}
	return fc.RemoteWrite, nil
}

// withDefaults fills the zero queue settings from def.
func (q Queue) withDefaults(def Queue) Queue {
	if q.BufferSamples == 0 {
		q.BufferSamples = def.BufferSamples
	}
	if q.BufferAge == 0 {
		q.BufferAge = def.BufferAge
	}
	if q.MaxSamplesPerSend == 0 {
		q.MaxSamplesPerSend = def.MaxSamplesPerSend
	}
	if q.MaxBytesPerSend == 0 {
		q.MaxBytesPerSend = def.MaxBytesPerSend
	}
	if q.MinBackoff == 0 {
		q.MinBackoff = def.MinBackoff
	}
	if q.MaxBackoff == 0 {
		q.MaxBackoff = def.MaxBackoff
	}
	return q
}

// WithDefaults fills the endpoint's zero settings from def.
func (e Endpoint) WithDefaults(def Queue) Endpoint {
	e.Queue = e.Queue.withDefaults(def.withDefaults(Queue{
		BufferSamples:     DefaultBufferSamples,
		BufferAge:         DefaultBufferAge,
		MaxSamplesPerSend: DefaultMaxSamplesPerSend,
		MaxBytesPerSend:   DefaultMaxBytesPerSend,
		MinBackoff:        DefaultMinBackoff,
		MaxBackoff:        DefaultMaxBackoff,
	}))
	if e.RemoteTimeout == 0 {
		e.RemoteTimeout = DefaultRemoteTimeout
	}
	return e
}

func (e Endpoint) validate() error {
	u, err := url.Parse(e.URL)
	if err != nil {
		return fmt.Errorf("remote write url %q: %w", e.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("remote write url %q: want http(s)://host/path", SanitizeURL(e.URL))
	}
	q := e.Queue
	if q.MaxSamplesPerSend <= 0 || q.BufferSamples < q.MaxSamplesPerSend {
		return fmt.Errorf("remote write %s: buffer_samples (%d) must be at least max_samples_per_send (%d) > 0",
			SanitizeURL(e.URL), q.BufferSamples, q.MaxSamplesPerSend)
	}
	if q.MaxBytesPerSend < minBytesPerSend {
		return fmt.Errorf("remote write %s: max_bytes_per_send (%d) must be at least %d", SanitizeURL(e.URL), q.MaxBytesPerSend, minBytesPerSend)
	}
	if q.BufferAge <= 0 || q.MinBackoff <= 0 || q.MaxBackoff < q.MinBackoff {
		return fmt.Errorf("remote write %s: buffer_age and backoffs must be positive, max_backoff >= min_backoff", SanitizeURL(e.URL))
	}
	if e.BearerToken != "" && e.BearerTokenFile != "" {
		return errors.New("remote write: at most one of bearer_token and bearer_token_file")
	}
	if e.BasicAuth != nil && (e.BearerToken != "" || e.BearerTokenFile != "") {
		return errors.New("remote write: at most one of basic_auth and bearer_token")
	}
	if a := e.BasicAuth; a != nil {
		n := 0
		for _, set := range []bool{a.Password != "", a.PasswordFile != "", a.PasswordEnv != ""} {
			if set {
				n++
			}
		}
		if n > 1 {
			return errors.New("remote write basic_auth: at most one of password, password_file and password_env")
		}
	}
	return nil
}

// httpClientConfig maps the endpoint's auth and TLS onto prometheus/common's
// HTTP client config (which reads the *_file secrets on every request, so a
// rotated secret is picked up without a restart).
func (e Endpoint) httpClientConfig() (config.HTTPClientConfig, error) {
	c := config.DefaultHTTPClientConfig
	c.TLSConfig = e.TLSConfig
	if a := e.BasicAuth; a != nil {
		c.BasicAuth = &config.BasicAuth{Username: a.Username, Password: a.Password, PasswordFile: a.PasswordFile}
		if a.PasswordEnv != "" {
			v, ok := os.LookupEnv(a.PasswordEnv)
			if !ok {
				return c, fmt.Errorf("remote write basic_auth: environment variable %s is not set", a.PasswordEnv)
			}
			c.BasicAuth.Password = config.Secret(v)
		}
	}
	if e.BearerToken != "" || e.BearerTokenFile != "" {
		c.Authorization = &config.Authorization{Type: "Bearer", Credentials: e.BearerToken, CredentialsFile: e.BearerTokenFile}
	}
	if len(e.Headers) > 0 {
		h := config.Headers{Headers: map[string]config.Header{}}
		for k, v := range e.Headers {
			h.Headers[k] = config.Header{Values: []string{v}}
		}
		c.HTTPHeaders = &h
	}
	return c, c.Validate()
}

// SanitizeURL drops credentials and the query from a URL, for labels and logs.
func SanitizeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid url>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
