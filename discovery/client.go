package discovery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v2"
)

// The in-cluster service account, as the kubelet mounts it.
var serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// tokenReread is how often a token file is read again: bound service-account
// tokens rotate (the kubelet rewrites the file well before expiry).
const tokenReread = time.Minute

// Client is the little of a Kubernetes API client the exporter needs: list
// and watch the objects of one node (pods, ResourceSlices), over HTTPS with a
// bearer token or a client certificate. It replaces client-go, whose packages
// alone doubled the binary and the exporter's resident memory. It is safe for
// concurrent use.
type Client struct {
	server string // scheme://host:port, no trailing slash
	http   *http.Client
	token  *tokenSource // nil: no bearer token (client certificate, or none)
}

// NewClient returns a client from the kubeconfig file, or the in-cluster
// configuration when the path is empty.
func NewClient(kubeconfig string) (*Client, error) {
	if kubeconfig != "" {
		return kubeconfigClient(kubeconfig)
	}
	return inClusterClient()
}

// inClusterClient: KUBERNETES_SERVICE_HOST/PORT, the service account's token
// (re-read as it rotates) and CA.
func inClusterClient() (*Client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); use --engine.kubeconfig")
	}
	ts := &tokenSource{path: filepath.Join(serviceAccountDir, "token")}
	if _, err := ts.get(false); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("service account CA: %w", err)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if tlsCfg.RootCAs, err = certPool(ca); err != nil {
		return nil, fmt.Errorf("service account CA: %w", err)
	}
	return newClient("https://"+net.JoinHostPort(host, port), tlsCfg, ts), nil
}

func newClient(server string, tlsCfg *tls.Config, ts *tokenSource) *Client {
	return &Client{
		server: strings.TrimRight(server, "/"),
		token:  ts,
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       tlsCfg,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}},
	}
}

func certPool(pem []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

// tokenSource is a bearer token: fixed, or read from a file again every
// tokenReread and at once after a 401.
type tokenSource struct {
	path string // "" for a fixed token

	mu   sync.Mutex
	tok  string
	read time.Time
}

// get returns the token, reading the file again when it is stale or force is set.
func (t *tokenSource) get(force bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.path == "" || (!force && t.tok != "" && time.Since(t.read) < tokenReread) {
		return t.tok, nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		if t.tok != "" {
			return t.tok, nil // keep the last one; the API server says whether it still works
		}
		return "", fmt.Errorf("token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", t.path)
	}
	t.tok, t.read = tok, time.Now()
	return tok, nil
}

// statusError is a non-2xx answer of the API server.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("API server: %d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

func isGone(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusGone
}

// get sends GET path?query with the bearer token; on a 401 it reads the token
// file again and, if the token changed, tries once more. A non-2xx answer is a
// *statusError (its body read, at most 4 KiB).
func (c *Client) get(ctx context.Context, path string, query url.Values) (*http.Response, error) {
	u := c.server + path + "?" + query.Encode()
	var last string
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "llm-node-exporter")
		if c.token != nil {
			tok, err := c.token.get(attempt > 0)
			if err != nil {
				return nil, err
			}
			if attempt > 0 && tok == last {
				return nil, &statusError{code: http.StatusUnauthorized, msg: "token rejected and unchanged on disk"}
			}
			last = tok
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && c.token != nil && c.token.path != "" && attempt == 0 {
			continue
		}
		return nil, &statusError{code: resp.StatusCode, msg: strings.TrimSpace(string(body))}
	}
}

// The kubeconfig fields the exporter understands.
type kubeconfigFile struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
			TLSServerName            string `yaml:"tls-server-name"`
			ProxyURL                 string `yaml:"proxy-url"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token                 string         `yaml:"token"`
			TokenFile             string         `yaml:"tokenFile"`
			ClientCertificate     string         `yaml:"client-certificate"`
			ClientCertificateData string         `yaml:"client-certificate-data"`
			ClientKey             string         `yaml:"client-key"`
			ClientKeyData         string         `yaml:"client-key-data"`
			Username              string         `yaml:"username"`
			Exec                  map[string]any `yaml:"exec"`
			AuthProvider          map[string]any `yaml:"auth-provider"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// kubeconfigClient reads the current context of a kubeconfig file: the
// cluster's server and CA (file or data, or insecure-skip-tls-verify), the
// user's token, token file or client certificate. Exec plugins, auth
// providers and basic auth are not supported: a start-up error.
func kubeconfigClient(path string) (*Client, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc kubeconfigFile
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	fail := func(format string, a ...any) (*Client, error) {
		return nil, fmt.Errorf("kubeconfig %s: "+format, append([]any{path}, a...)...)
	}
	// Relative file names are relative to the kubeconfig's directory.
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	if kc.CurrentContext == "" {
		return fail("no current-context")
	}
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return fail("context %q not found", kc.CurrentContext)
	}
	found = false
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var server string
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		found = true
		cl := c.Cluster
		server = cl.Server
		if cl.ProxyURL != "" {
			return fail("cluster %q: proxy-url is not supported", clusterName)
		}
		tlsCfg.ServerName = cl.TLSServerName
		tlsCfg.InsecureSkipVerify = cl.InsecureSkipTLSVerify
		var ca []byte
		switch {
		case cl.CertificateAuthorityData != "":
			if ca, err = base64.StdEncoding.DecodeString(cl.CertificateAuthorityData); err != nil {
				return fail("cluster %q: certificate-authority-data: %v", clusterName, err)
			}
		case cl.CertificateAuthority != "":
			if ca, err = os.ReadFile(rel(cl.CertificateAuthority)); err != nil {
				return fail("cluster %q: %v", clusterName, err)
			}
		}
		if ca != nil {
			if tlsCfg.RootCAs, err = certPool(ca); err != nil {
				return fail("cluster %q: certificate authority: %v", clusterName, err)
			}
		}
	}
	if !found {
		return fail("cluster %q not found", clusterName)
	}
	su, err := url.Parse(server)
	if err != nil || (su.Scheme != "https" && su.Scheme != "http") || su.Host == "" {
		return fail("cluster %q: server %q is not an http(s) URL", clusterName, server)
	}
	var ts *tokenSource
	if userName != "" {
		found = false
		for _, u := range kc.Users {
			if u.Name != userName {
				continue
			}
			found = true
			us := u.User
			switch {
			case us.Exec != nil:
				return fail("user %q: exec credential plugins are not supported; use a token, tokenFile or client certificate", userName)
			case us.AuthProvider != nil:
				return fail("user %q: auth-provider is not supported; use a token, tokenFile or client certificate", userName)
			case us.Username != "":
				return fail("user %q: basic auth is not supported; use a token, tokenFile or client certificate", userName)
			}
			switch {
			case us.Token != "":
				ts = &tokenSource{tok: us.Token}
			case us.TokenFile != "":
				ts = &tokenSource{path: rel(us.TokenFile)}
				if _, err := ts.get(false); err != nil {
					return fail("user %q: %v", userName, err)
				}
			}
			certPEM, keyPEM := []byte(nil), []byte(nil)
			if certPEM, err = dataOrFile(us.ClientCertificateData, rel(us.ClientCertificate)); err != nil {
				return fail("user %q: client certificate: %v", userName, err)
			}
			if keyPEM, err = dataOrFile(us.ClientKeyData, rel(us.ClientKey)); err != nil {
				return fail("user %q: client key: %v", userName, err)
			}
			if (certPEM == nil) != (keyPEM == nil) {
				return fail("user %q: a client certificate needs both the certificate and the key", userName)
			}
			if certPEM != nil {
				cert, err := tls.X509KeyPair(certPEM, keyPEM)
				if err != nil {
					return fail("user %q: client certificate: %v", userName, err)
				}
				tlsCfg.Certificates = []tls.Certificate{cert}
			}
		}
		if !found {
			return fail("user %q not found", userName)
		}
	}
	return newClient(server, tlsCfg, ts), nil
}

// dataOrFile is the base64 *-data field when set, else the file's content, else nil.
func dataOrFile(data, file string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(data)
	}
	if file != "" {
		return os.ReadFile(file)
	}
	return nil, nil
}
