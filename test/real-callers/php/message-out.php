<?php
// The helpline's side of a counselor reply or close, for test/real-callers/php-client.test.ts.
// Written for this suite (not a copy) to do what openchlai/rest_api does: api/index.php message_out()
// logs in at the gateway's token/ and then posts the reply to chat/ (or the close to
// chat/<session>/close/), each through lib/rpc.php kurl(), which uses these curl options:
// CURLOPT_URL, CURLOPT_HEADER false, CURLOPT_RETURNTRANSFER true, CURLOPT_TIMEOUT (60 s),
// CURLOPT_HTTPHEADER, CURLOPT_POST true, CURLOPT_POSTFIELDS (a json_encode string). kurl() also turns
// on CURLOPT_VERBOSE into a log file, which changes nothing on the wire; it is left out here.
//
// Input (stdin, JSON): auth_url, send_url, close_url, username, password, close (bool),
//   o: {src_address, src_msg, src_callid, src} (the message record: what the bridge gave msg/),
//   p: {src_usr} (the counselor's extension).
// Output (stdout, one JSON line): the status and body of the login and of the call.

ini_set('display_errors', 'stderr'); // PHP's warnings must not mix with the JSON on stdout

function post_as_kurl($url, $timeout, $postdata, $hdrs)
{
	$ch = curl_init();
	curl_setopt($ch, CURLOPT_URL, $url);
	curl_setopt($ch, CURLOPT_HEADER, false);
	curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
	curl_setopt($ch, CURLOPT_TIMEOUT, $timeout);
	if ($hdrs != null && count($hdrs) > 0) curl_setopt($ch, CURLOPT_HTTPHEADER, $hdrs);
	if ($postdata != null) {
		curl_setopt($ch, CURLOPT_POST, true);
		curl_setopt($ch, CURLOPT_POSTFIELDS, $postdata);
	}
	$data = curl_exec($ch);
	$status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
	curl_close($ch);
	return array('data' => $data === false ? '' : $data, 'status' => $status);
}

$in = json_decode(stream_get_contents(STDIN), true);
$o = $in['o'];
$p = $in['p'];

$login = post_as_kurl(
	$in['auth_url'],
	60,
	json_encode(array('username' => $in['username'], 'password' => $in['password'])),
	array('Content-Type: application/json')
);

// As message_out() reads it: the token of the decoded answer, whatever the status.
$hdrs = array('Content-Type: application/json', 'Authorization: Token ' . json_decode($login['data'], true)['token']);

if ($in['close']) {
	$url = $in['close_url'] . $o['src_callid'] . '/close/';
	$postdata = array('chat_source' => 'HELPLINE');
} else {
	$url = $in['send_url'];
	$postdata = array(
		'chat_sender' => $o['src_address'],
		'chat_receiver' => $p['src_usr'],
		'chat_message' => $o['src_msg'],
		'chat_session' => $o['src_callid'],
		'chat_channel' => $o['src'],
		'chat_source' => 'OUTBOX',
	);
}
$call = post_as_kurl($url, 60, json_encode($postdata), $hdrs);

echo json_encode(array('login' => $login, 'call' => $call)), "\n";
